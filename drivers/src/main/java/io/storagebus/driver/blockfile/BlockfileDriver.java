package io.storagebus.driver.blockfile;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.PropertyDescriptor;
import io.storagebus.driver.PropertyType;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.BlockSizing;
import io.storagebus.driver.support.CapacityLedger;
import io.storagebus.driver.support.DirectoryDriver;
import io.storagebus.driver.support.LocalFiles;
import io.storagebus.driver.support.Processes;
import io.storagebus.driver.support.QemuImg;
import io.storagebus.driver.support.SnapshotChain;
import io.storagebus.driver.support.VolumeFiles;
import io.storagebus.driver.support.VolumeMeta;

/**
 * Block volumes as loop devices over files in a directory: the same thin semantics as LVM,
 * anywhere root can run {@code losetup}. The file's length is the volume's allocation (as an LV's
 * size is); the SPM grows it with {@link #extend}, and hosts that have it attached see the new
 * size after {@link #refresh} ({@code losetup -c}). {@link #activate} attaches a loop device.
 */
public final class BlockfileDriver extends DirectoryDriver {
    public static final String NAME = "blockfile";
    /** Allocation unit, like an LVM extent. */
    static final long EXTENT = Sizes.MIB;
    /** Optional limit on the bytes the domain's volumes may take, as a VG's size limits its LVs. */
    public static final String CAPACITY = "capacity";
    /** System property: this host's directory of activated chains (links to loop devices). */
    public static final String RUN_DIR_PROPERTY = "storagebus.blockfile.run-dir";
    static final String DEFAULT_RUN_DIR = "/run/storagebus/blockfile";

    /** What the volumes of capacity-limited domains take, so that a storm of extends does not size every file per extend. */
    private final CapacityLedger ledger = new CapacityLedger();

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.THIN, Capability.EXTENDABLE, Capability.REFRESH, Capability.ACTIVATE, Capability.SHARED,
                Capability.SNAPSHOT, Capability.RESIZE);
    }

    @Override
    public List<PropertyDescriptor> properties() {
        return List.of(PropertyDescriptor.required(PATH, PropertyType.PATH,
                        "absolute path of an existing, writable directory that holds the backing files of the domain's volumes"),
                PropertyDescriptor.optional(CAPACITY, PropertyType.SIZE, null,
                        "most bytes the volumes may take together, like the size of a volume group; unset: the file system's free space"));
    }

    @Override
    public VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta meta = new VolumeMeta(spec.volumeId(), spec.name(), spec.virtualSize(), spec.format(), spec.allocation(),
                spec.volumeId() + ".img", null);
        var existing = existing(domain, files, meta);
        if (existing.isPresent()) {
            return existing.get();
        }
        long size = BlockSizing.initialSize(spec, EXTENT);
        requireFree(domain, files, size); // before the file is made; admit checks again under the lock
        return createFile(domain, files, meta, tmp -> {
            if (spec.format() == VolumeFormat.QCOW2) {
                QemuImg.create(tmp, VolumeFormat.QCOW2, spec.virtualSize(), false);
            }
            // The rest of the allocation is a sparse tail, as a fresh LV is unwritten space.
            try (RandomAccessFile raf = new RandomAccessFile(tmp.toFile(), "rw")) {
                raf.setLength(size);
            }
        });
    }

    /**
     * Writes in place, from offset 0: a loop device may be attached to this very file. The fence
     * is checked and the write recorded before the data moves, without holding the domain's lock
     * for the whole transfer.
     */
    @Override
    public void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        VolumeFiles files = files(domain);
        fenced(domain, "write", volume.volumeId(), () -> null);
        Path file = files.dataOf(files.liveOrThrow(volume.volumeId()));
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            if (length > raf.length()) {
                throw new DriverException(DriverException.Code.NO_SPACE,
                        "volume " + volume + " has " + raf.length() + " bytes allocated, the data needs " + length + "; extend it first");
            }
            OutputStream out = Channels.newOutputStream(raf.getChannel());
            long copied = LocalFiles.copy(data, out, length);
            if (copied != length) {
                throw new DriverException(DriverException.Code.IO_ERROR, "stream ended after " + copied + " of " + length + " bytes");
            }
            raf.getFD().sync();
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot write volume " + volume, e);
        }
    }

    /** A new top has its first allocation; an imported layer may need more, allocated as an extend would. */
    @Override
    protected void fillTop(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        if (info(domain, volume).allocatedSize() < length) {
            extend(domain, volume, length);
        }
        write(domain, volume, data, length);
    }

    @Override
    public VolumeInfo extend(DomainContext domain, VolumeUri volume, long newAllocatedSize) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        Path file = files.dataOf(meta);
        long max = BlockSizing.maxSize(meta.format(), meta.virtualSize(), EXTENT);
        long target = Math.min(Sizes.roundUp(newAllocatedSize, EXTENT), max);
        fenced(domain, "extend", volume.volumeId(), () -> {
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                long current = raf.length();
                if (target > current) {
                    requireFree(domain, files, target - current);
                    raf.setLength(target);
                    ledger.allocated(domain.path(PATH), target - current);
                }
            } catch (IOException e) {
                throw VolumeFiles.ioError("cannot extend volume " + volume, e);
            }
            return null;
        });
        return info(domain, files, meta);
    }

    /**
     * As an LV grows: a raw volume (always all allocated) and a preallocated qcow2 one by the
     * allocation the new size needs, checked against the free space and counted in the ledger;
     * then a qcow2 layer's header, whose larger tables may take a cluster or two more.
     */
    @Override
    protected void grow(DomainContext domain, VolumeFiles files, VolumeMeta meta, long newVirtualSize) throws DriverException {
        makeRoom(domain, files, meta, newVirtualSize);
        Path file = files.dataOf(meta);
        if (meta.format() == VolumeFormat.QCOW2 && QemuImg.virtualSize(file, VolumeFormat.QCOW2) < newVirtualSize) {
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                long header = raf.length();
                QemuImg.resize(file, VolumeFormat.QCOW2, newVirtualSize, false);
                ledger.allocated(domain.path(PATH), Math.max(0, raf.length() - header));
            } catch (IOException e) {
                throw VolumeFiles.ioError("cannot resize volume " + meta.volumeId(), e);
            }
        }
    }

    /**
     * The allocation a raw or preallocated volume needs at the new size, as an LV is grown before
     * its guest's QEMU grows the image on it; a thin qcow2 volume's comes with its extends.
     */
    @Override
    protected void makeRoom(DomainContext domain, VolumeFiles files, VolumeMeta meta, long newVirtualSize) throws DriverException {
        if (meta.allocation() != Allocation.PREALLOCATED) {
            return;
        }
        try (RandomAccessFile raf = new RandomAccessFile(files.dataOf(meta).toFile(), "rw")) {
            long before = raf.length();
            long target = BlockSizing.maxSize(meta.format(), newVirtualSize, EXTENT);
            if (target > before) {
                requireFree(domain, files, target - before);
                raf.setLength(target);
                ledger.allocated(domain.path(PATH), target - before);
            }
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot make room to resize volume " + meta.volumeId(), e);
        }
    }

    /**
     * All of the allocation, as an LV's size is all of it: the backing file's sparseness is how
     * this driver stands in for a volume group, not something the volume has. Also spares every
     * info (every extend) a {@code stat} process.
     */
    @Override
    protected long actualSize(Path data) throws DriverException {
        try {
            return java.nio.file.Files.size(data);
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot read size of " + data, e);
        }
    }

    /**
     * The file system's free space, and under a capacity what the volumes' files leave of it,
     * from the domain's {@link CapacityLedger} account: O(1), not a scan per question.
     */
    @Override
    public OptionalLong freeSpace(DomainContext domain) throws DriverException {
        VolumeFiles files = files(domain);
        long free = LocalFiles.usableSpace(files.volumesDir());
        String capacity = domain.properties().get(CAPACITY);
        if (capacity != null) {
            long used = ledger.used(domain.path(PATH), domain.epoch(), () -> usedByLiveVolumes(files));
            free = Math.min(free, Math.max(0, Sizes.parse(capacity) - used));
        }
        return OptionalLong.of(free);
    }

    /** The capacity if the domain has one (and its file system holds it), else the file system's size. */
    @Override
    public OptionalLong totalSpace(DomainContext domain) throws DriverException {
        long fileSystem = LocalFiles.totalSpace(files(domain).volumesDir());
        String capacity = domain.properties().get(CAPACITY);
        return OptionalLong.of(capacity == null ? fileSystem : Math.min(fileSystem, Sizes.parse(capacity)));
    }

    /** What the storage says the live volumes' layers take: the ledger's scan. */
    private long usedByLiveVolumes(VolumeFiles files) throws DriverException {
        long used = 0;
        for (VolumeMeta m : files.listLive()) {
            for (String layer : m.dataFiles()) {
                used += actualSize(files.volumesDir().resolve(layer));
            }
        }
        return used;
    }

    private void requireFree(DomainContext domain, VolumeFiles files, long bytes) throws DriverException {
        if (domain.properties().get(CAPACITY) == null) {
            LocalFiles.requireFreeSpace(files.volumesDir(), bytes);
            return;
        }
        long free = freeSpace(domain).orElseThrow();
        if (free < bytes) {
            throw new DriverException(DriverException.Code.NO_SPACE, "domain " + domain.id() + " has " + free
                    + " bytes free under its capacity of " + domain.properties().get(CAPACITY) + ", " + bytes + " are needed");
        }
    }

    /** The new volume's file counts against the capacity from the moment it is admitted, checked under the domain's lock. */
    @Override
    protected void admit(DomainContext domain, VolumeFiles files, Path made) throws DriverException, IOException {
        long size = Files.size(made);
        requireFree(domain, files, size);
        ledger.allocated(domain.path(PATH), size);
    }

    @Override
    protected void layersChanged(DomainContext domain) {
        ledger.forget(domain.path(PATH));
    }

    /** Every layer's loop device sees its file's new size (a merge may have grown a layer below the top). */
    @Override
    public void refresh(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        for (String layer : meta.dataFiles()) {
            for (String device : attached(files.volumesDir().resolve(layer))) {
                Processes.run(List.of("losetup", "-c", device));
            }
        }
    }

    /**
     * Attaches a loop device to every layer of the volume's chain and links each, under the
     * layer's own file name, in a directory of this host ({@value #RUN_DIR_PROPERTY}, default
     * {@value #DEFAULT_RUN_DIR}). The path returned is the top's link: a qcow2 layer names its
     * backing file relative to itself, so QEMU, opening the link, finds the layer below as the
     * link beside it, that layer's device. This is how oVirt runs chains of LVs.
     */
    @Override
    public String activate(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        Path run = runDir(domain, volume.volumeId());
        try {
            Files.createDirectories(run);
            for (String layer : meta.dataFiles()) {
                Path file = files.volumesDir().resolve(layer);
                List<String> devices = attached(file);
                String device = devices.isEmpty() ? Processes.run(List.of("losetup", "--find", "--show", file.toString())).trim() : devices.get(0);
                Path link = run.resolve(layer);
                if (!Files.isSymbolicLink(link) || !Files.readSymbolicLink(link).toString().equals(device)) {
                    Files.deleteIfExists(link);
                    Files.createSymbolicLink(link, Path.of(device));
                }
            }
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot link the layers of volume " + volume + " in " + run, e);
        }
        return run.resolve(meta.dataFile()).toString();
    }

    /** Detaches the devices of every layer linked here (a layer merged away while the guest ran too) and removes the links. */
    @Override
    public void deactivate(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        Path run = runDir(domain, volume.volumeId());
        try {
            if (Files.isDirectory(run)) {
                try (var links = Files.list(run)) {
                    for (Path link : links.toList()) {
                        if (Files.isSymbolicLink(link)) {
                            detach(Files.readSymbolicLink(link).toString(), files.volumesDir(), volume.volumeId());
                        }
                        Files.delete(link);
                    }
                }
                Files.delete(run);
            }
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot remove the layer links of volume " + volume + " in " + run, e);
        }
        for (String layer : files.liveOrThrow(volume.volumeId()).dataFiles()) {
            for (String device : attached(files.volumesDir().resolve(layer))) {
                Processes.run(List.of("losetup", "-d", device));
            }
        }
    }

    /**
     * Detaches a loop device if it still shows one of the volume's files (a layer merged away
     * shows as deleted); a device detached since, or reused for another file, is left alone.
     */
    private static void detach(String device, Path volumesDir, String volumeId) throws DriverException {
        String backing;
        try {
            backing = Processes.run(List.of("losetup", "--noheadings", "--output", "BACK-FILE", device)).trim();
        } catch (DriverException notAttached) {
            return;
        }
        if (backing.startsWith(volumesDir.resolve(volumeId).toString())) {
            Processes.run(List.of("losetup", "-d", device));
        }
    }

    private static Path runDir(DomainContext domain, String volumeId) {
        return Path.of(System.getProperty(RUN_DIR_PROPERTY, DEFAULT_RUN_DIR), domain.id(), volumeId);
    }

    /** A new layer gets a thin volume's first allocation; before a merge, the child gets room for the layer's data. */
    @Override
    protected SnapshotChain.LayerFiles layerFiles(DomainContext domain) {
        VolumeFiles files = files(domain);
        return new SnapshotChain.LayerFiles() {
            @Override
            public String name(VolumeMeta meta, int generation) {
                return meta.volumeId() + ".g" + generation + ".img";
            }

            @Override
            public void allocate(Path overlay, VolumeMeta meta) throws DriverException {
                long size = BlockSizing.initialSize(new VolumeSpec(meta.volumeId(), meta.name(), meta.virtualSize(), VolumeFormat.QCOW2,
                        io.storagebus.driver.Allocation.THIN), EXTENT);
                requireFree(domain, files, size);
                setLength(overlay, size);
            }

            @Override
            public void makeRoom(Path child, Path layer, VolumeMeta meta) throws DriverException {
                try {
                    long target = Math.min(Sizes.roundUp(Files.size(child) + Files.size(layer), EXTENT),
                            BlockSizing.maxSize(VolumeFormat.QCOW2, meta.virtualSize(), EXTENT));
                    if (target > Files.size(child)) {
                        requireFree(domain, files, target - Files.size(child));
                        setLength(child, target);
                    }
                } catch (IOException e) {
                    throw VolumeFiles.ioError("cannot size " + child + " for the merge of " + layer, e);
                }
            }
        };
    }

    private static void setLength(Path file, long size) throws DriverException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot allocate " + file, e);
        }
    }

    /** Loop devices attached to the file on this host. */
    static List<String> attached(Path file) throws DriverException {
        String out = Processes.run(List.of("losetup", "--noheadings", "--output", "NAME", "--associated", file.toString()));
        return Arrays.stream(out.split("\n")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    @Override
    protected void checkRemovable(VolumeFiles files, VolumeMeta meta, VolumeUri volume) throws DriverException {
        List<String> devices = new java.util.ArrayList<>();
        for (String layer : meta.dataFiles()) {
            devices.addAll(attached(files.volumesDir().resolve(layer)));
        }
        if (!devices.isEmpty()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " is active on this host as " + devices
                    + "; deactivate it first");
        }
    }
}
