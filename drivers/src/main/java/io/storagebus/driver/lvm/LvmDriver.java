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
import io.storagebus.driver.PropertyDescriptor;
import io.storagebus.driver.PropertyType;
import io.storagebus.driver.PropertyViolation;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
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

    public LvmDriver() {
        this(Lvm.deviceMapperPresent());
    }

    /** For hosts (and tests) that decide themselves whether device-mapper is there. */
    public LvmDriver(boolean deviceMapper) {
        this.lvm = new Lvm(deviceMapper);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.THIN, Capability.EXTENDABLE, Capability.REFRESH, Capability.ACTIVATE, Capability.SHARED, Capability.CLONE_COW);
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
        return Optional.ofNullable(liveLv(domain, volume).tag(PARENT));
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
        for (Lvm.Lv lv : lvm.find(vg, List.of(spec.volumeId(), DELINKED + spec.volumeId()))) {
            if (lv.name().equals(spec.volumeId())) {
                VolumeInfo info = toInfo(domain, lv);
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
        return toInfo(domain, liveLv(domain, volume));
    }

    private Lvm.Lv liveLv(DomainContext domain, VolumeUri volume) throws DriverException {
        return findLv(domain, volume.volumeId()).orElseThrow(() ->
                new DriverException(DriverException.Code.NOT_FOUND, "no volume " + volume + " in VG " + domain.property(VG)));
    }

    private Optional<Lvm.Lv> findLv(DomainContext domain, String lvName) throws DriverException {
        return lvm.find(domain.property(VG), lvName).filter(lv -> lv.tags().contains(TAG));
    }

    /**
     * A volume as its LV's name and tags describe it. Tags are input from a stranger (anyone who
     * runs lvchange on the VG): an LV whose name is not a volume id or whose tags do not read is
     * refused, never half believed.
     */
    private static VolumeInfo toInfo(DomainContext domain, Lvm.Lv lv) throws DriverException {
        String id = lv.name().startsWith(DELINKED) ? lv.name().substring(DELINKED.length()) : lv.name();
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
            return new VolumeInfo(new VolumeUri(domain.id(), id), name, "/dev/" + domain.property(VG) + "/" + lv.name(),
                    virtualSize, lv.size(), lv.size(), VolumeFormat.valueOf(String.valueOf(lv.tag("sb_fmt="))),
                    Allocation.valueOf(String.valueOf(lv.tag("sb_alloc="))));
        } catch (IllegalArgumentException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, where + "tags sb_vsize=" + lv.tag("sb_vsize=") + " sb_fmt="
                    + lv.tag("sb_fmt=") + " sb_alloc=" + lv.tag("sb_alloc=") + " do not describe a volume (" + e.getMessage() + ")");
        }
    }

    /** The volumes these LVs describe; one whose tags are refused is left out with a warning, so it blocks nothing else. */
    private static List<VolumeInfo> described(DomainContext domain, List<Lvm.Lv> lvs) {
        List<VolumeInfo> result = new ArrayList<>();
        for (Lvm.Lv lv : lvs) {
            try {
                result.add(toInfo(domain, lv));
            } catch (DriverException e) {
                LOG.warn("not a volume: {}", e.getMessage());
            }
        }
        return result;
    }

    @Override
    public InputStream read(DomainContext domain, VolumeUri volume) throws DriverException {
        Lvm.Lv lv = liveLv(domain, volume);
        String device = activate(domain, volume);
        try {
            InputStream in = Files.newInputStream(Path.of(device));
            if (lv.active()) {
                return in;
            }
            // We activated it for this read: deactivate when the reader is done.
            return new FilterInputStream(in) {
                @Override
                public void close() throws IOException {
                    super.close();
                    try {
                        deactivate(domain, volume);
                    } catch (DriverException e) {
                        throw new IOException(e.getMessage(), e);
                    }
                }
            };
        } catch (IOException e) {
            deactivateQuietly(domain, volume, lv);
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot read " + device + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        Lvm.Lv lv = liveLv(domain, volume);
        refuseIfTemplate(domain, volume, "rewrite");
        if (length > lv.size()) {
            throw new DriverException(DriverException.Code.NO_SPACE,
                    "volume " + volume + " has " + lv.size() + " bytes allocated, the data needs " + length + "; extend it first");
        }
        String device = activate(domain, volume);
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
            deactivateQuietly(domain, volume, lv);
        }
    }

    @Override
    public void delink(DomainContext domain, VolumeUri volume) throws DriverException {
        Lvm.Lv lv = liveLv(domain, volume);
        refuseIfActive(lv, volume);
        refuseIfTemplate(domain, volume, "delink");
        lvm.run("lvrename", domain.property(VG), lv.name(), DELINKED + lv.name());
    }

    @Override
    public VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException {
        Lvm.Lv lv = delinkedLv(domain, volume);
        if (findLv(domain, volume.volumeId()).isPresent()) {
            throw new DriverException(DriverException.Code.CONFLICT, "a live volume " + volume + " exists already");
        }
        lvm.run("lvrename", domain.property(VG), lv.name(), volume.volumeId());
        return info(domain, volume);
    }

    @Override
    public void purge(DomainContext domain, VolumeUri volume) throws DriverException {
        Lvm.Lv lv = delinkedLv(domain, volume);
        lvm.run("lvremove", "-f", domain.property(VG) + "/" + lv.name());
    }

    private Lvm.Lv delinkedLv(DomainContext domain, VolumeUri volume) throws DriverException {
        return findLv(domain, DELINKED + volume.volumeId()).orElseThrow(() ->
                new DriverException(DriverException.Code.NOT_FOUND, "no delinked volume " + volume));
    }

    @Override
    public void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException {
        Lvm.Lv lv = liveLv(domain, volume);
        refuseIfActive(lv, volume);
        refuseIfTemplate(domain, volume, "destroy");
        if (wipe) {
            if (!lvm.canActivate()) {
                throw noDeviceMapper("wipe a volume");
            }
            String device = activate(domain, volume);
            try {
                Processes.run(List.of("dd", "if=/dev/zero", "of=" + device, "bs=1M", "count=" + Math.max(1, lv.size() / Sizes.MIB),
                        "oflag=direct", "conv=fsync", "status=none"));
            } finally {
                deactivate(domain, volume);
            }
        }
        lvm.run("lvremove", "-f", domain.property(VG) + "/" + lv.name());
    }

    @Override
    public List<VolumeInfo> list(DomainContext domain) throws DriverException {
        return described(domain, lvm.list(domain.property(VG)).stream()
                .filter(lv -> lv.tags().contains(TAG) && !lv.name().startsWith(DELINKED)).toList());
    }

    @Override
    public List<VolumeInfo> listDelinked(DomainContext domain) throws DriverException {
        return described(domain, lvm.list(domain.property(VG)).stream()
                .filter(lv -> lv.tags().contains(TAG) && lv.name().startsWith(DELINKED)).toList());
    }

    @Override
    public VolumeInfo extend(DomainContext domain, VolumeUri volume, long newAllocatedSize) throws DriverException {
        Lvm.Lv lv = liveLv(domain, volume);
        VolumeInfo info = toInfo(domain, lv);
        String vg = domain.property(VG);
        long extent = lvm.extentSize(vg);
        long target = Math.min(Sizes.roundUp(newAllocatedSize, extent), BlockSizing.maxSize(info.format(), info.virtualSize(), extent));
        if (target <= lv.size()) {
            return info;
        }
        lvm.run("lvextend", "-L", target + "b", vg + "/" + lv.name());
        // lvextend made the LV exactly target bytes (a whole number of extents): no lvs to ask again.
        return toInfo(domain, new Lvm.Lv(lv.name(), target, lv.tags(), lv.active()));
    }

    @Override
    public java.util.OptionalLong freeSpace(DomainContext domain) throws DriverException {
        return java.util.OptionalLong.of(lvm.freeBytes(domain.property(VG)));
    }

    @Override
    public java.util.OptionalLong totalSpace(DomainContext domain) throws DriverException {
        return java.util.OptionalLong.of(lvm.sizeBytes(domain.property(VG)));
    }

    @Override
    public void refresh(DomainContext domain, VolumeUri volume) throws DriverException {
        if (!lvm.canActivate()) {
            throw noDeviceMapper("refresh a volume");
        }
        lvm.run("lvchange", "--refresh", domain.property(VG) + "/" + liveLv(domain, volume).name());
    }

    @Override
    public String activate(DomainContext domain, VolumeUri volume) throws DriverException {
        if (!lvm.canActivate()) {
            throw noDeviceMapper("activate a volume");
        }
        String vg = domain.property(VG);
        synchronized (chainLock(vg)) {
            Lvm.Lv lv = liveLv(domain, volume);
            // The clone's sources first, so that whoever opens the clone finds its backing files.
            for (Lvm.Lv source : sources(domain, lv)) {
                if (!source.active()) {
                    lvm.run("lvchange", "-ay", vg + "/" + source.name());
                }
            }
            if (!lv.active()) {
                lvm.run("lvchange", "-ay", vg + "/" + lv.name());
            }
            return "/dev/" + vg + "/" + lv.name();
        }
    }

    /** The LVs a clone's layer reads through to, nearest first; none for a volume that is no clone. */
    private List<Lvm.Lv> sources(DomainContext domain, Lvm.Lv lv) throws DriverException {
        List<Lvm.Lv> sources = new ArrayList<>();
        Lvm.Lv child = lv;
        while (child.tag(PARENT) != null) {
            if (sources.size() == 64) {
                throw new DriverException(DriverException.Code.IO_ERROR, "LV " + lv.name() + "'s " + PARENT + " tags make a loop or a chain over 64 long");
            }
            String parent = child.tag(PARENT);
            String name = child.name();
            child = findLv(domain, parent).orElseThrow(() -> new DriverException(DriverException.Code.IO_ERROR,
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
        String vg = domain.property(VG);
        synchronized (chainLock(vg)) {
            Lvm.Lv lv = liveLv(domain, volume);
            lvm.run("lvchange", "-an", vg + "/" + lv.name());
            List<Lvm.Lv> sources = sources(domain, lv);
            if (sources.isEmpty()) {
                return;
            }
            // A source stays active while another clone active on this host still reads through to it.
            List<Lvm.Lv> all = lvm.list(vg);
            for (Lvm.Lv source : sources) {
                boolean stillRead = all.stream().anyMatch(other -> other.active() && !other.name().equals(lv.name())
                        && source.name().equals(other.tag(PARENT)));
                if (stillRead) {
                    return;
                }
                if (source.active()) {
                    lvm.run("lvchange", "-an", vg + "/" + source.name());
                }
                all = all.stream().map(other -> other.name().equals(source.name())
                        ? new Lvm.Lv(other.name(), other.size(), other.tags(), false) : other).toList();
            }
        }
    }

    private void deactivateQuietly(DomainContext domain, VolumeUri volume, Lvm.Lv before) {
        if (!before.active()) {
            try {
                deactivate(domain, volume);
            } catch (DriverException e) {
                // it stays active on this host; the next teardown deactivates it
                LOG.warn("volume {} stays active on this host: {}", volume, e.getMessage());
            }
        }
    }

    private void removeQuietly(String vg, String lvName, DriverException cause) {
        try {
            lvm.run("lvremove", "-f", vg + "/" + lvName);
        } catch (DriverException e) {
            cause.addSuppressed(e);
        }
    }

    private static void refuseIfActive(Lvm.Lv lv, VolumeUri volume) throws DriverException {
        if (lv.active()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " is active on this host; deactivate it first");
        }
    }

    private static DriverException noDeviceMapper(String what) {
        return new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE,
                "cannot " + what + ": device-mapper is not available on this host (the kernel has no dm-mod)");
    }
}
