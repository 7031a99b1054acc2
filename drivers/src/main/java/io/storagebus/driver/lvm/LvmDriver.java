package io.storagebus.driver.lvm;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.Epoch;
import io.storagebus.driver.Fence;
import io.storagebus.driver.FencedException;
import io.storagebus.driver.MergePlan;
import io.storagebus.driver.PropertyDescriptor;
import io.storagebus.driver.PropertyType;
import io.storagebus.driver.PropertyViolation;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.SnapshotInfo;
import io.storagebus.driver.SnapshotStatus;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeImage;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.BlockSizing;
import io.storagebus.driver.support.LocalFiles;
import io.storagebus.driver.support.Processes;
import io.storagebus.driver.support.QemuImg;
import io.storagebus.driver.support.StoredMetadata;

/**
 * Volumes as logical volumes of a volume group on a shared LUN, described by LV tags
 * ({@code sb_vol}, {@code sb_name=}, {@code sb_fmt=}, {@code sb_alloc=}, {@code sb_vsize=}), so
 * the VG describes itself. Thin qcow2 volumes grow by {@code lvextend} on the SPM and other
 * hosts see it after {@code lvchange --refresh}. A delinked volume is renamed {@code del.<id>}
 * (one atomic lvrename) until it is restored or purged.
 *
 * <p>Data operations (read, write, wipe, qcow2 headers, activation) need device-mapper. On a
 * host without it the driver runs lvm2 with {@code --driverloaded n}: metadata operations work,
 * the others fail with {@link DriverException.Code#DOMAIN_UNAVAILABLE} and leave nothing behind.
 */
public final class LvmDriver implements StorageDriver {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LvmDriver.class);
    public static final String NAME = "lvm";
    public static final String VG = "vg";
    static final String TAG = "sb_vol";
    static final String DELINKED = "del.";
    /** A clone's tag naming the volume whose LV backs its qcow2 layer. */
    static final String PARENT = "sb_parent=";

    private final Lvm lvm;
    /** Activations and deactivations of one VG's chains on this host, one at a time: a source is never dropped under a clone being activated. */
    private final Map<String, Object> chainLocks = new java.util.concurrent.ConcurrentHashMap<>();
    /** The driver's own activations of volumes (reads, exports, merges) by VG/volume id; see {@link #hold}. */
    private final Map<String, Hold> holds = new java.util.HashMap<>();

    public LvmDriver() {
        this(Lvm.deviceMapperPresent());
    }

    /** For hosts (and tests) that decide themselves whether device-mapper is there. */
    public LvmDriver(boolean deviceMapper) {
        this(deviceMapper, true);
    }

    /** {@code inShells} false runs each lvm2 command as its own process instead of in the long-lived shells; for benchmarks. */
    public LvmDriver(boolean deviceMapper, boolean inShells) {
        this.lvm = new Lvm(deviceMapper, inShells);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.THIN, Capability.EXTENDABLE, Capability.REFRESH, Capability.ACTIVATE, Capability.SHARED, Capability.CLONE_COW,
                Capability.SNAPSHOT);
    }

    @Override
    public List<PropertyDescriptor> properties() {
        return List.of(PropertyDescriptor.required(VG, PropertyType.STRING, "name of the LVM volume group that holds the domain's volumes")
                .withPattern("[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}"));
    }

    @Override
    public List<PropertyViolation> validate(Map<String, String> properties) {
        String vg = properties.get(VG);
        return lvm.vgExists(vg) ? List.of()
                : List.of(new PropertyViolation(VG, "NOT_FOUND", "volume group '" + vg + "' is not visible on this host"));
    }

    @Override
    public String storageId(Map<String, String> properties) {
        return "vg:" + properties.get(VG);
    }

    @Override
    public VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException {
        String vg = domain.property(VG);
        Optional<VolumeInfo> existing = existing(domain, spec);
        if (existing.isPresent()) {
            return existing.get();
        }
        if (spec.format() == VolumeFormat.QCOW2 && !lvm.canActivate()) {
            throw noDeviceMapper("write a qcow2 header");
        }
        allocate(domain, spec);
        if (spec.format() == VolumeFormat.QCOW2) {
            try {
                String device = activate(domain, spec.uri(domain));
                try {
                    QemuImg.create(Path.of(device), VolumeFormat.QCOW2, spec.virtualSize(), false);
                } finally {
                    deactivate(domain, spec.uri(domain));
                }
            } catch (DriverException e) {
                removeQuietly(vg, spec.volumeId(), e);
                throw e;
            }
        }
        return info(domain, spec.uri(domain));
    }

    /**
     * Storage-side fencing in the VG's metadata: each SPM term adds its {@code sb_epoch=N} tag and
     * deletes only lower ones, so the highest tag never goes down; a writer whose epoch is below
     * the highest is refused, and one that finds a higher tag right after adding its own lost a
     * race. Each step is one lvm2 command under lvm2's VG lock; across hosts a deployment also
     * needs lvmlockd, as any shared VG does.
     */
    @Override
    public Fence fence() {
        return new Fence() {
            @Override
            public void advance(DomainContext domain) throws DriverException {
                String vg = domain.property(VG);
                Lvm.FenceTags tags = lvm.fenceTags(vg);
                Epoch highest = Epoch.of(tags.highest());
                if (domain.epoch().isOlderThan(highest)) {
                    throw new FencedException(domain.id(), domain.epoch(), highest);
                }
                if (highest.isOlderThan(domain.epoch()) || tags.epochs().size() > 1) {
                    List<String> args = new ArrayList<>(List.of("--addtag", "sb_epoch=" + domain.epoch().value()));
                    for (long e : tags.epochs()) {
                        if (e < domain.epoch().value()) {
                            args.add("--deltag");
                            args.add("sb_epoch=" + e);
                        }
                    }
                    args.add(vg);
                    lvm.run("vgchange", args.toArray(String[]::new));
                    Lvm.FenceTags now = lvm.fenceTags(vg);
                    if (domain.epoch().isOlderThan(Epoch.of(now.highest()))) {
                        throw new FencedException(domain.id(), domain.epoch(), Epoch.of(now.highest()));
                    }
                    if (now.autoactivation()) {
                        turnAutoactivationOff(vg);
                    }
                }
            }

            /**
             * udev's pvscan would activate the VG's LVs on every host that sees its PV change; only
             * the host a volume is prepared on may have it active. A racing term may turn it off
             * first, and lvm2 refuses to do it twice.
             */
            private void turnAutoactivationOff(String vg) throws DriverException {
                try {
                    lvm.run("vgchange", "--setautoactivation", "n", vg);
                } catch (DriverException e) {
                    if (lvm.fenceTags(vg).autoactivation()) {
                        throw e;
                    }
                }
            }

            @Override
            public Epoch highest(DomainContext domain) throws DriverException {
                return Epoch.of(lvm.fenceTags(domain.property(VG)).highest());
            }
        };
    }

    /** The metadata half of create: the LV and its tags, without touching its data. */
    void allocate(DomainContext domain, VolumeSpec spec) throws DriverException {
        allocate(domain, spec, null);
    }

    private void allocate(DomainContext domain, VolumeSpec spec, String parent) throws DriverException {
        String vg = domain.property(VG);
        long size = BlockSizing.initialSize(spec, lvm.extentSize(vg));
        List<String> args = new ArrayList<>(List.of("--yes", "-an", "-Zn", "-n", spec.volumeId(), "-L", size + "b",
                "--addtag", TAG, "--addtag", "sb_name=" + spec.name(), "--addtag", "sb_fmt=" + spec.format(),
                "--addtag", "sb_alloc=" + spec.allocation(), "--addtag", "sb_vsize=" + spec.virtualSize()));
        if (parent != null) {
            args.addAll(List.of("--addtag", PARENT + parent));
        }
        if (lvm.canActivate()) {
            // Never autoactivated (see the fence, which turns it off for the whole VG); lvm2 refuses
            // the option without device-mapper, where this host activates nothing anyway.
            args.addAll(List.of("--setautoactivation", "n"));
        }
        args.add(vg);
        lvm.run("lvcreate", args.toArray(String[]::new));
    }

    /**
     * A copy-on-write clone: its own thin LV holding a qcow2 layer whose backing file is the
     * source's LV, named by its {@code /dev/<vg>/<lv>} path, which udev makes the same on every
     * host of a shared VG. The clone's {@code sb_parent=} tag records the chain, so activating the
     * clone activates its source first, and the source, now a template, can be neither written,
     * delinked nor destroyed while a clone (live or delinked) stands on it.
     */
    @Override
    public VolumeInfo clone(DomainContext domain, VolumeUri source, VolumeSpec clone) throws DriverException {
        VolumeInfo template = info(domain, source);
        if (clone.format() != VolumeFormat.QCOW2) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "clones in an lvm domain are qcow2 layers on their source's LV; ask for format QCOW2");
        }
        if (clone.virtualSize() < template.virtualSize()) {
            throw new DriverException(DriverException.Code.INVALID_SPEC,
                    "a clone cannot be smaller than its source (" + template.virtualSize() + " bytes)");
        }
        Optional<VolumeInfo> existing = existing(domain, clone);
        if (existing.isPresent()) {
            String parent = parentOf(domain, existing.get().uri()).orElse(null);
            if (!source.volumeId().equals(parent)) {
                throw new DriverException(DriverException.Code.CONFLICT, "volume " + clone.volumeId() + " exists and is no clone of " + source);
            }
            return existing.get();
        }
        if (!lvm.canActivate()) {
            throw noDeviceMapper("write a clone's qcow2 header");
        }
        allocate(domain, clone, source.volumeId());
        VolumeUri uri = clone.uri(domain);
        try {
            String device = activate(domain, uri);
            try {
                QemuImg.createOverlay(Path.of(device), template.location(), template.format(), clone.virtualSize());
            } finally {
                deactivate(domain, uri);
            }
        } catch (DriverException e) {
            removeQuietly(domain.property(VG), clone.volumeId(), e);
            throw e;
        }
        return info(domain, uri);
    }

    @Override
    public Optional<String> parentOf(DomainContext domain, VolumeUri volume) throws DriverException {
        return Optional.ofNullable(liveChain(domain, volume).head().tag(PARENT));
    }

    /** Refuses to change a template's data or take it away: clones (live or delinked) read through to it. */
    private void refuseIfTemplate(DomainContext domain, VolumeUri volume, String what) throws DriverException {
        List<String> clones = lvm.list(domain.property(VG)).stream().filter(lv -> volume.volumeId().equals(lv.tag(PARENT)))
                .map(Lvm.Lv::name).toList();
        if (!clones.isEmpty()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " backs clones " + clones + "; cannot " + what + " it");
        }
    }

    private Optional<VolumeInfo> existing(DomainContext domain, VolumeSpec spec) throws DriverException {
        String vg = domain.property(VG);
        for (LvChain chain : lvm.chains(vg, spec.volumeId())) {
            if (chain.head().name().equals(spec.volumeId())) {
                VolumeInfo info = toInfo(domain, chain);
                if (info.virtualSize() == spec.virtualSize() && info.format() == spec.format() && info.allocation() == spec.allocation()) {
                    return Optional.of(info);
                }
                throw new DriverException(DriverException.Code.CONFLICT, "volume " + spec.volumeId() + " exists in " + vg + " with another spec");
            }
            throw new DriverException(DriverException.Code.CONFLICT,
                    "a delinked volume " + spec.volumeId() + " exists in " + vg + "; restore or purge it first");
        }
        return Optional.empty();
    }

    @Override
    public VolumeInfo info(DomainContext domain, VolumeUri volume) throws DriverException {
        return toInfo(domain, liveChain(domain, volume));
    }

    /** The live volume's LVs, or {@link DriverException.Code#NOT_FOUND}. */
    private LvChain liveChain(DomainContext domain, VolumeUri volume) throws DriverException {
        return chain(domain, volume.volumeId(), volume.volumeId()).orElseThrow(() ->
                new DriverException(DriverException.Code.NOT_FOUND, "no volume " + volume + " in VG " + domain.property(VG)));
    }

    private LvChain delinkedChain(DomainContext domain, VolumeUri volume) throws DriverException {
        return chain(domain, volume.volumeId(), DELINKED + volume.volumeId()).orElseThrow(() ->
                new DriverException(DriverException.Code.NOT_FOUND, "no delinked volume " + volume));
    }

    private Optional<LvChain> chain(DomainContext domain, String volumeId, String headName) throws DriverException {
        return lvm.chains(domain.property(VG), volumeId).stream().filter(c -> c.head().name().equals(headName)).findFirst();
    }

    /**
     * A volume as its head's name and tags and its top layer's LV describe it. Tags are input
     * from a stranger (anyone who runs lvchange on the VG): an LV whose name is not a volume id or
     * whose tags do not read is refused, never half believed.
     */
    private static VolumeInfo toInfo(DomainContext domain, LvChain chain) throws DriverException {
        Lvm.Lv lv = chain.head();
        Lvm.Lv top = chain.topLv();
        String id = chain.volumeId();
        String name = lv.tag("sb_name=");
        String where = "LV " + domain.property(VG) + "/" + lv.name() + " refused: ";
        if (!VolumeUri.ID.matcher(id).matches()) {
            throw new DriverException(DriverException.Code.IO_ERROR, where + "its name is not a volume id");
        }
        if (!StoredMetadata.isName(name)) {
            throw new DriverException(DriverException.Code.IO_ERROR, where + "tag sb_name=" + name + " is not a volume name");
        }
        try {
            long virtualSize = Long.parseLong(String.valueOf(lv.tag("sb_vsize=")));
            if (virtualSize <= 0) {
                throw new NumberFormatException("not positive");
            }
            return new VolumeInfo(new VolumeUri(domain.id(), id), name, device(domain, top), virtualSize, top.size(), top.size(),
                    VolumeFormat.valueOf(String.valueOf(lv.tag("sb_fmt="))), Allocation.valueOf(String.valueOf(lv.tag("sb_alloc="))));
        } catch (IllegalArgumentException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, where + "tags sb_vsize=" + lv.tag("sb_vsize=") + " sb_fmt="
                    + lv.tag("sb_fmt=") + " sb_alloc=" + lv.tag("sb_alloc=") + " do not describe a volume (" + e.getMessage() + ")");
        }
    }

    private static String device(DomainContext domain, Lvm.Lv lv) {
        return "/dev/" + domain.property(VG) + "/" + lv.name();
    }

    private static String lvPath(DomainContext domain, Lvm.Lv lv) {
        return domain.property(VG) + "/" + lv.name();
    }

    /** The volumes these chains describe; one whose tags are refused is left out with a warning, so it blocks nothing else. */
    private static List<VolumeInfo> described(DomainContext domain, List<LvChain> chains) {
        List<VolumeInfo> result = new ArrayList<>();
        for (LvChain chain : chains) {
            try {
                result.add(toInfo(domain, chain));
            } catch (DriverException e) {
                LOG.warn("not a volume: {}", e.getMessage());
            }
        }
        return result;
    }

    @Override
    public InputStream read(DomainContext domain, VolumeUri volume) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        return openDevice(domain, volume, chain, chain.topLv(), false).stream();
    }

    /**
     * An LV of the volume's chain opened for reading, the chain activated here for it and
     * deactivated again when the reader closes it, unless it was active before. The whole LV, or
     * with {@code toImageEnd} only up to the end of the qcow2 image it holds: the rest of the LV
     * is room for the image to grow into.
     */
    private VolumeImage openDevice(DomainContext domain, VolumeUri volume, LvChain chain, Lvm.Lv lv, boolean toImageEnd)
            throws DriverException {
        String device = device(domain, lv);
        hold(domain, volume, chain);
        try {
            long length = toImageEnd ? Math.min(lv.size(), QemuImg.imageEndOffset(Path.of(device)).orElse(lv.size())) : lv.size();
            InputStream in = Files.newInputStream(Path.of(device));
            return new VolumeImage(new FilterInputStream(in) {
                private long remaining = length;
                private boolean closed;

                @Override
                public int read() throws IOException {
                    if (remaining == 0) {
                        return -1;
                    }
                    int b = super.read();
                    remaining -= b < 0 ? 0 : 1;
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (remaining == 0) {
                        return -1;
                    }
                    int n = super.read(b, off, (int) Math.min(len, remaining));
                    remaining -= Math.max(n, 0);
                    return n;
                }

                @Override
                public void close() throws IOException {
                    if (closed) {
                        return;
                    }
                    closed = true;
                    super.close();
                    try {
                        release(domain, volume);
                    } catch (DriverException e) {
                        throw new IOException(e.getMessage(), e);
                    }
                }
            }, length, VolumeFormat.QCOW2, () -> { });
        } catch (IOException e) {
            releaseQuietly(domain, volume);
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot read " + device + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        refuseIfTemplate(domain, volume, "rewrite");
        if (length > chain.topLv().size()) {
            throw new DriverException(DriverException.Code.NO_SPACE, "volume " + volume + " has " + chain.topLv().size()
                    + " bytes allocated, the data needs " + length + "; extend it first");
        }
        String device = hold(domain, volume, chain);
        try (RandomAccessFile raf = new RandomAccessFile(device, "rw")) {
            OutputStream out = Channels.newOutputStream(raf.getChannel());
            long copied = LocalFiles.copy(data, out, length);
            if (copied != length) {
                throw new DriverException(DriverException.Code.IO_ERROR, "stream ended after " + copied + " of " + length + " bytes");
            }
            raf.getFD().sync();
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot write " + device + ": " + e.getMessage(), e);
        } finally {
            releaseQuietly(domain, volume);
        }
    }

    @Override
    public void delink(DomainContext domain, VolumeUri volume) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        refuseIfActive(chain, volume);
        refuseIfTemplate(domain, volume, "delink");
        // Only the head is renamed: the layers' qcow2 headers name the LVs below them, which keep their names.
        lvm.run("lvrename", domain.property(VG), chain.head().name(), DELINKED + chain.head().name());
    }

    @Override
    public VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException {
        LvChain chain = delinkedChain(domain, volume);
        if (chain(domain, volume.volumeId(), volume.volumeId()).isPresent()) {
            throw new DriverException(DriverException.Code.CONFLICT, "a live volume " + volume + " exists already");
        }
        lvm.run("lvrename", domain.property(VG), chain.head().name(), volume.volumeId());
        return info(domain, volume);
    }

    @Override
    public void purge(DomainContext domain, VolumeUri volume) throws DriverException {
        remove(domain, delinkedChain(domain, volume));
    }

    /** Every LV of the volume in one lvremove: its layers (even ones a failed snapshot left over), then its head. */
    private void remove(DomainContext domain, LvChain chain) throws DriverException {
        List<String> args = new ArrayList<>(List.of("-f"));
        for (Lvm.Lv lv : chain.layers().values()) {
            args.add(lvPath(domain, lv));
        }
        args.add(lvPath(domain, chain.head()));
        lvm.run("lvremove", args.toArray(String[]::new));
    }

    @Override
    public void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        refuseIfActive(chain, volume);
        refuseIfTemplate(domain, volume, "destroy");
        if (wipe) {
            if (!lvm.canActivate()) {
                throw noDeviceMapper("wipe a volume");
            }
            activate(domain, volume);
            try {
                for (Lvm.Lv lv : chain.dataLvs()) {
                    Processes.run(List.of("dd", "if=/dev/zero", "of=" + device(domain, lv), "bs=1M", "count=" + Math.max(1, lv.size() / Sizes.MIB),
                            "oflag=direct", "conv=fsync", "status=none"));
                }
            } finally {
                deactivate(domain, volume);
            }
        }
        remove(domain, chain);
    }

    @Override
    public List<VolumeInfo> list(DomainContext domain) throws DriverException {
        return described(domain, chains(domain).stream().filter(c -> !c.head().name().startsWith(DELINKED)).toList());
    }

    @Override
    public List<VolumeInfo> listDelinked(DomainContext domain) throws DriverException {
        return described(domain, chains(domain).stream().filter(c -> c.head().name().startsWith(DELINKED)).toList());
    }

    /** Every volume's chain in the VG; a chain whose tags do not read is left out with a warning. */
    private List<LvChain> chains(DomainContext domain) throws DriverException {
        return LvChain.of(domain.property(VG), lvm.list(domain.property(VG)), e -> LOG.warn("not a volume: {}", e.getMessage()));
    }

    /** Grows the top layer, the one a guest writes. */
    @Override
    public VolumeInfo extend(DomainContext domain, VolumeUri volume, long newAllocatedSize) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        VolumeInfo info = toInfo(domain, chain);
        String vg = domain.property(VG);
        long extent = lvm.extentSize(vg);
        long target = Math.min(Sizes.roundUp(newAllocatedSize, extent), BlockSizing.maxSize(info.format(), info.virtualSize(), extent));
        if (target <= chain.topLv().size()) {
            return info;
        }
        lvm.run("lvextend", "-L", target + "b", lvPath(domain, chain.topLv()));
        // lvextend made the LV exactly target bytes (a whole number of extents): no lvs to ask again.
        return new VolumeInfo(info.uri(), info.name(), info.location(), info.virtualSize(), target, target, info.format(), info.allocation());
    }

    @Override
    public java.util.OptionalLong freeSpace(DomainContext domain) throws DriverException {
        return java.util.OptionalLong.of(lvm.freeBytes(domain.property(VG)));
    }

    @Override
    public java.util.OptionalLong totalSpace(DomainContext domain) throws DriverException {
        return java.util.OptionalLong.of(lvm.sizeBytes(domain.property(VG)));
    }

    /** Reloads every layer's size (the SPM grows the top by extends, and a merge's child before it), in one lvchange. */
    @Override
    public void refresh(DomainContext domain, VolumeUri volume) throws DriverException {
        if (!lvm.canActivate()) {
            throw noDeviceMapper("refresh a volume");
        }
        List<String> args = new ArrayList<>(List.of("--refresh"));
        for (Lvm.Lv lv : liveChain(domain, volume).dataLvs()) {
            args.add(lvPath(domain, lv));
        }
        lvm.run("lvchange", args.toArray(String[]::new));
    }

    /** Activates the volume's layers, and before them the chains of the templates it is a clone of; returns the top's device. */
    @Override
    public String activate(DomainContext domain, VolumeUri volume) throws DriverException {
        if (!lvm.canActivate()) {
            throw noDeviceMapper("activate a volume");
        }
        synchronized (chainLock(domain.property(VG))) {
            LvChain chain = liveChain(domain, volume);
            List<String> args = new ArrayList<>(List.of("-ay"));
            List<LvChain> all = new ArrayList<>(sources(domain, chain));
            all.add(chain);
            for (LvChain c : all) {
                for (Lvm.Lv lv : c.dataLvs()) {
                    if (!lv.active()) {
                        args.add(lvPath(domain, lv));
                    }
                }
            }
            if (args.size() > 1) {
                lvm.run("lvchange", args.toArray(String[]::new));
            }
            return device(domain, chain.topLv());
        }
    }

    /** The chains of the templates a clone's layers read through to, nearest first; none for a volume that is no clone. */
    private List<LvChain> sources(DomainContext domain, LvChain chain) throws DriverException {
        List<LvChain> sources = new ArrayList<>();
        LvChain child = chain;
        while (child.head().tag(PARENT) != null) {
            if (sources.size() == 64) {
                throw new DriverException(DriverException.Code.IO_ERROR, "LV " + chain.head().name() + "'s " + PARENT
                        + " tags make a loop or a chain over 64 long");
            }
            String parent = child.head().tag(PARENT);
            String name = child.head().name();
            child = chain(domain, parent, parent).orElseThrow(() -> new DriverException(DriverException.Code.IO_ERROR,
                    "LV " + name + " is a clone of " + parent + ", which is not in VG " + domain.property(VG)));
            sources.add(child);
        }
        return sources;
    }

    private Object chainLock(String vg) {
        return chainLocks.computeIfAbsent(vg, k -> new Object());
    }

    @Override
    public void deactivate(DomainContext domain, VolumeUri volume) throws DriverException {
        if (!lvm.canActivate()) {
            throw noDeviceMapper("deactivate a volume");
        }
        synchronized (chainLock(domain.property(VG))) {
            LvChain chain = liveChain(domain, volume);
            deactivateLvs(domain, chain);
            List<LvChain> sources = sources(domain, chain);
            if (sources.isEmpty()) {
                return;
            }
            // A template stays active while another clone active on this host still reads through to it.
            List<LvChain> all = chains(domain);
            java.util.Set<String> inactive = new java.util.HashSet<>(List.of(chain.volumeId()));
            for (LvChain source : sources) {
                boolean stillRead = all.stream().anyMatch(other -> !inactive.contains(other.volumeId()) && other.active()
                        && source.volumeId().equals(other.head().tag(PARENT)));
                if (stillRead) {
                    return;
                }
                deactivateLvs(domain, source);
                inactive.add(source.volumeId());
            }
        }
    }

    private void deactivateLvs(DomainContext domain, LvChain chain) throws DriverException {
        List<String> args = new ArrayList<>(List.of("-an"));
        for (Lvm.Lv lv : chain.allLvs()) {
            if (lv.active()) {
                args.add(lvPath(domain, lv));
            }
        }
        if (args.size() > 1) {
            lvm.run("lvchange", args.toArray(String[]::new));
        }
    }

    // ---- snapshots: a layer per LV, the chain in the head's tags (see LvChain) ----

    /**
     * A new top: an LV with a thin first allocation holding a qcow2 layer on the current top's
     * device, made without reading the layer below (it may be active only where its guest runs);
     * then one lvchange on the head records the frozen layer and the new top together.
     */
    @Override
    public SnapshotInfo snapshot(DomainContext domain, VolumeUri volume, String snapshotId, String name, boolean pending) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        Optional<LvChain.Layer> existing = chain.snapshot(snapshotId);
        if (existing.isPresent()) {
            return snapshotInfo(domain, chain, existing.get());
        }
        VolumeInfo info = toInfo(domain, chain);
        if (info.format() != VolumeFormat.QCOW2) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "volume " + volume + " is " + info.format()
                    + "; snapshots are qcow2 layers, so only qcow2 volumes have them");
        }
        requireIdle(chain, volume);
        if (!lvm.canActivate()) {
            throw noDeviceMapper("write a snapshot layer's qcow2 header");
        }
        String vg = domain.property(VG);
        int generation = chain.nextGeneration();
        String layerLv = LvChain.layerName(chain.volumeId(), generation);
        long size = BlockSizing.initialSize(new VolumeSpec(info.volumeId(), info.name(), info.virtualSize(), VolumeFormat.QCOW2,
                Allocation.THIN), lvm.extentSize(vg));
        lvm.run("lvcreate", "--yes", "-an", "-Zn", "-n", layerLv, "-L", size + "b", "--addtag", LvChain.LAYER,
                "--setautoactivation", "n", vg);
        LvChain.Layer frozen = new LvChain.Layer(chain.top(), pending ? SnapshotStatus.PENDING : SnapshotStatus.READY,
                System.currentTimeMillis(), snapshotId, name);
        try {
            lvm.run("lvchange", "-ay", vg + "/" + layerLv);
            try {
                QemuImg.createOverlayUnverified(Path.of("/dev/" + vg + "/" + layerLv), info.location(), VolumeFormat.QCOW2, info.virtualSize());
            } finally {
                lvm.run("lvchange", "-an", vg + "/" + layerLv);
            }
            List<String> args = new ArrayList<>(List.of("--addtag", frozen.tag(), "--addtag", LvChain.TOP + generation,
                    "--addtag", LvChain.MADE + generation));
            if (chain.top() > 0) {
                args.addAll(List.of("--deltag", LvChain.TOP + chain.top()));
            }
            if (chain.made() > 0) {
                args.addAll(List.of("--deltag", LvChain.MADE + chain.made()));
            }
            args.add(lvPath(domain, chain.head()));
            lvm.run("lvchange", args.toArray(String[]::new));
        } catch (DriverException e) {
            removeQuietly(vg, layerLv, e);
            throw e;
        }
        return snapshotInfo(domain, liveChain(domain, volume), frozen);
    }

    @Override
    public SnapshotInfo commitSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        LvChain.Layer layer = layerOrThrow(chain, volume, snapshotId);
        if (layer.status() == SnapshotStatus.MERGING) {
            throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshotId + " of " + volume + " is being merged");
        }
        if (layer.status() == SnapshotStatus.PENDING) {
            retag(domain, chain, layer, layer.withStatus(SnapshotStatus.READY));
        }
        return snapshotInfo(domain, chain, layer.withStatus(SnapshotStatus.READY));
    }

    /** Undoes a pending snapshot: its new top's LV goes, and the layer it froze is the top again. */
    @Override
    public void abortSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        Optional<LvChain.Layer> found = chain.snapshot(snapshotId);
        if (found.isEmpty()) {
            return;
        }
        LvChain.Layer layer = found.get();
        if (layer.status() != SnapshotStatus.PENDING || !layer.equals(chain.snapshots().get(chain.snapshots().size() - 1))) {
            throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshotId + " of " + volume + " is "
                    + layer.status() + "; only a pending snapshot can be undone");
        }
        lvm.run("lvchange", "--deltag", layer.tag(), "--deltag", LvChain.TOP + chain.top(), "--addtag", LvChain.TOP + layer.generation(),
                lvPath(domain, chain.head()));
        lvm.run("lvremove", "-f", lvPath(domain, chain.topLv()));
    }

    @Override
    public List<SnapshotInfo> snapshots(DomainContext domain, VolumeUri volume) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        List<SnapshotInfo> result = new ArrayList<>();
        for (LvChain.Layer layer : chain.snapshots()) {
            result.add(snapshotInfo(domain, chain, layer));
        }
        return result;
    }

    /**
     * Marks the snapshot MERGING and plans streaming its layer into the one above, as the file
     * drivers do; first the child's LV is grown by the layer's size (up to a full image's), as
     * oVirt extends before a merge, so the streamed data always has room.
     */
    @Override
    public MergePlan beginMerge(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        LvChain.Layer layer = layerOrThrow(chain, volume, snapshotId);
        if (layer.status() != SnapshotStatus.MERGING) {
            requireIdle(chain, volume);
            refuseIfTemplate(domain, volume, "merge a snapshot of");
            Lvm.Lv child = chain.lv(chain.childOf(layer));
            Lvm.Lv frozen = chain.lv(layer.generation());
            long extent = lvm.extentSize(domain.property(VG));
            long target = Math.min(Sizes.roundUp(child.size() + frozen.size(), extent),
                    BlockSizing.maxSize(VolumeFormat.QCOW2, toInfo(domain, chain).virtualSize(), extent));
            if (target > child.size()) {
                lvm.run("lvextend", "-L", target + "b", lvPath(domain, child));
            }
            retag(domain, chain, layer, layer.withStatus(SnapshotStatus.MERGING));
        }
        return plan(domain, chain, layer);
    }

    /**
     * Ends a merge: offline ({@code streamed} false) the child is rebased onto the base first,
     * which copies the layer's data into it; either way the child must back onto the base before
     * the layer is dropped. A base layer that was the head's leaves the head as the volume's
     * metadata LV, cut to one extent.
     */
    @Override
    public void finishMerge(DomainContext domain, VolumeUri volume, String snapshotId, boolean streamed) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        Optional<LvChain.Layer> found = chain.snapshot(snapshotId);
        if (found.isEmpty()) {
            return;
        }
        LvChain.Layer layer = found.get();
        if (layer.status() != SnapshotStatus.MERGING) {
            throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshotId + " of " + volume + " is not being merged");
        }
        MergePlan plan = plan(domain, chain, layer);
        Path child = Path.of(plan.child());
        hold(domain, volume, chain);
        try {
            if (!streamed) {
                QemuImg.rebase(child, plan.base());
            }
            Path backing = QemuImg.backingFile(child);
            if (plan.base() == null ? backing != null : !Path.of(plan.base()).equals(backing)) {
                throw new DriverException(DriverException.Code.CONFLICT, "the merge of snapshot " + snapshotId + " of " + volume
                        + " has not finished: " + child.getFileName() + " still backs onto " + backing);
            }
        } finally {
            releaseQuietly(domain, volume);
        }
        lvm.run("lvchange", "--deltag", layer.tag(), lvPath(domain, chain.head()));
        Lvm.Lv merged = chain.lv(layer.generation());
        try {
            if (layer.generation() == 0) {
                lvm.run("lvreduce", "-f", "-L", lvm.extentSize(domain.property(VG)) + "b", lvPath(domain, merged));
            } else {
                lvm.run("lvremove", "-f", lvPath(domain, merged));
            }
        } catch (DriverException e) {
            // Nothing reads it any more (a guest's QEMU may still hold it open); the volume's removal takes it with it.
            LOG.warn("the merged layer {} of volume {} keeps its extents for now: {}", merged.name(), volume, e.getMessage());
        }
    }

    /**
     * A snapshot's image for copying out: its own layer as it is (incremental), or the chain up
     * to it flattened into a temporary file. No snapshot means the top: its own layer, or the
     * whole volume, flattened when it has layers below (a snapshot's, or a template's).
     */
    @Override
    public VolumeImage export(DomainContext domain, VolumeUri volume, String snapshotId, boolean incremental) throws DriverException {
        LvChain chain = liveChain(domain, volume);
        Lvm.Lv image;
        if (snapshotId == null) {
            if (!incremental && chain.snapshots().isEmpty() && chain.head().tag(PARENT) == null) {
                return StorageDriver.super.export(domain, volume, null, false);
            }
            image = chain.topLv();
        } else {
            LvChain.Layer layer = layerOrThrow(chain, volume, snapshotId);
            if (layer.status() != SnapshotStatus.READY) {
                throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshotId + " of " + volume + " is " + layer.status());
            }
            if (incremental && chain.parentOf(layer).isEmpty()) {
                throw new DriverException(DriverException.Code.INVALID_SPEC, "snapshot " + snapshotId + " of " + volume
                        + " is the base of its chain: it has no parent to be a difference to; back it up whole");
            }
            image = chain.lv(layer.generation());
        }
        if (incremental) {
            // The layer's own qcow2, its header naming the layer below: a chain is copied a layer at a time.
            return openDevice(domain, volume, chain, image, true);
        }
        hold(domain, volume, chain);
        Path flat;
        try {
            flat = Files.createTempFile("storagebus-lvm-export-", ".qcow2");
            QemuImg.flatten(Path.of(device(domain, image)), flat);
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot make a temporary file to flatten " + volume + " into", e);
        } finally {
            releaseQuietly(domain, volume);
        }
        try {
            return new VolumeImage(Files.newInputStream(flat), Files.size(flat), VolumeFormat.QCOW2, () -> Files.deleteIfExists(flat));
        } catch (IOException e) {
            io.storagebus.driver.support.VolumeFiles.deleteQuietly(flat);
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot open the flattened " + volume, e);
        }
    }

    /** A layer copied from elsewhere: a snapshot makes an empty top, which gets the layer's bytes, then names the frozen layer as its backing. */
    @Override
    public String importLayer(DomainContext domain, VolumeUri volume, String snapshotId, String name, InputStream top, long length)
            throws DriverException {
        snapshot(domain, volume, snapshotId, name, false);
        LvChain chain = liveChain(domain, volume);
        long extent = lvm.extentSize(domain.property(VG));
        if (length > chain.topLv().size()) {
            lvm.run("lvextend", "-L", Sizes.roundUp(length, extent) + "b", lvPath(domain, chain.topLv()));
        }
        write(domain, volume, top, length);
        String readBack;
        try {
            readBack = io.storagebus.driver.VolumeCopier.sha256(read(domain, volume), length);
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot read back the layer imported into " + volume, e);
        }
        chain = liveChain(domain, volume);
        hold(domain, volume, chain);
        try {
            QemuImg.rebaseUnsafe(Path.of(device(domain, chain.topLv())),
                    device(domain, chain.lv(chain.snapshots().get(chain.snapshots().size() - 1).generation())));
        } finally {
            releaseQuietly(domain, volume);
        }
        return readBack;
    }

    private MergePlan plan(DomainContext domain, LvChain chain, LvChain.Layer layer) {
        Optional<LvChain.Layer> base = chain.parentOf(layer);
        return new MergePlan(layer.snapshotId(), device(domain, chain.lv(layer.generation())), device(domain, chain.lv(chain.childOf(layer))),
                base.map(b -> device(domain, chain.lv(b.generation()))).orElse(null));
    }

    private static SnapshotInfo snapshotInfo(DomainContext domain, LvChain chain, LvChain.Layer layer) {
        return new SnapshotInfo(layer.snapshotId(), layer.name(), device(domain, chain.lv(layer.generation())),
                chain.parentOf(layer).map(LvChain.Layer::snapshotId).orElse(null), layer.createdAt(), layer.status());
    }

    /** One snapshot's status changed: its tag swapped in one lvchange, atomic under lvm2's VG lock. */
    private void retag(DomainContext domain, LvChain chain, LvChain.Layer before, LvChain.Layer after) throws DriverException {
        lvm.run("lvchange", "--deltag", before.tag(), "--addtag", after.tag(), lvPath(domain, chain.head()));
    }

    private static LvChain.Layer layerOrThrow(LvChain chain, VolumeUri volume, String snapshotId) throws DriverException {
        return chain.snapshot(snapshotId).orElseThrow(() -> new DriverException(DriverException.Code.NOT_FOUND,
                "volume " + volume + " has no snapshot " + snapshotId));
    }

    private static void requireIdle(LvChain chain, VolumeUri volume) throws DriverException {
        for (LvChain.Layer layer : chain.snapshots()) {
            if (layer.status() != SnapshotStatus.READY) {
                throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + layer.snapshotId() + " of " + volume
                        + " is " + layer.status() + "; one snapshot operation at a time");
            }
        }
    }

    /**
     * Activates the volume here for the driver's own use (a read, an export, a merge) and counts
     * it: several exports of one chain can be open at once (a chain copied layer by layer), and
     * the chain is deactivated when the last one is done, and only if the first found it inactive.
     * Returns the top's device.
     */
    private String hold(DomainContext domain, VolumeUri volume, LvChain chain) throws DriverException {
        String key = domain.property(VG) + "/" + volume.volumeId();
        synchronized (holds) {
            holds.computeIfAbsent(key, k -> new Hold(!chain.active())).count++;
        }
        try {
            return activate(domain, volume);
        } catch (DriverException e) {
            releaseQuietly(domain, volume);
            throw e;
        }
    }

    private void release(DomainContext domain, VolumeUri volume) throws DriverException {
        String key = domain.property(VG) + "/" + volume.volumeId();
        boolean deactivate;
        synchronized (holds) {
            Hold hold = holds.get(key);
            deactivate = --hold.count == 0 && hold.activated;
            if (hold.count == 0) {
                holds.remove(key);
            }
        }
        if (deactivate) {
            deactivate(domain, volume);
        }
    }

    private void releaseQuietly(DomainContext domain, VolumeUri volume) {
        try {
            release(domain, volume);
        } catch (DriverException e) {
            // it stays active on this host; the next teardown deactivates it
            LOG.warn("volume {} stays active on this host: {}", volume, e.getMessage());
        }
    }

    /** The driver's own uses of a volume on this host: how many, and whether the first activated it. */
    private static final class Hold {
        final boolean activated;
        int count;

        Hold(boolean activated) {
            this.activated = activated;
        }
    }

    private void removeQuietly(String vg, String lvName, DriverException cause) {
        try {
            lvm.run("lvremove", "-f", vg + "/" + lvName);
        } catch (DriverException e) {
            cause.addSuppressed(e);
        }
    }

    private static void refuseIfActive(LvChain chain, VolumeUri volume) throws DriverException {
        if (chain.active()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " is active on this host; deactivate it first");
        }
    }

    private static DriverException noDeviceMapper(String what) {
        return new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE,
                "cannot " + what + ": device-mapper is not available on this host (the kernel has no dm-mod)");
    }
}
