package io.storagebus.driver.blockfile;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;

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
import io.storagebus.driver.support.DirectoryDriver;
import io.storagebus.driver.support.LocalFiles;
import io.storagebus.driver.support.Processes;
import io.storagebus.driver.support.QemuImg;
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

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.THIN, Capability.EXTENDABLE, Capability.REFRESH, Capability.ACTIVATE, Capability.SHARED);
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
        requireFree(domain, files, size);
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
                }
            } catch (IOException e) {
                throw VolumeFiles.ioError("cannot extend volume " + volume, e);
            }
            return null;
        });
        return info(domain, files, meta);
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

    /** The file system's free space, and under a capacity what the volumes' files leave of it. */
    @Override
    public OptionalLong freeSpace(DomainContext domain) throws DriverException {
        VolumeFiles files = files(domain);
        long free = LocalFiles.usableSpace(files.volumesDir());
        String capacity = domain.properties().get(CAPACITY);
        if (capacity != null) {
            long used = 0;
            for (VolumeInfo v : list(domain)) {
                used += v.allocatedSize();
            }
            free = Math.min(free, Math.max(0, Sizes.parse(capacity) - used));
        }
        return OptionalLong.of(free);
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

    @Override
    public void refresh(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        for (String device : attached(files.dataOf(files.liveOrThrow(volume.volumeId())))) {
            Processes.run(List.of("losetup", "-c", device));
        }
    }

    @Override
    public String activate(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        Path file = files.dataOf(files.liveOrThrow(volume.volumeId()));
        List<String> devices = attached(file);
        if (!devices.isEmpty()) {
            return devices.get(0);
        }
        return Processes.run(List.of("losetup", "--find", "--show", file.toString())).trim();
    }

    @Override
    public void deactivate(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        for (String device : attached(files.dataOf(files.liveOrThrow(volume.volumeId())))) {
            Processes.run(List.of("losetup", "-d", device));
        }
    }

    /** Loop devices attached to the file on this host. */
    static List<String> attached(Path file) throws DriverException {
        String out = Processes.run(List.of("losetup", "--noheadings", "--output", "NAME", "--associated", file.toString()));
        return Arrays.stream(out.split("\n")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    @Override
    protected void checkRemovable(VolumeFiles files, VolumeMeta meta, VolumeUri volume) throws DriverException {
        List<String> devices = attached(files.dataOf(meta));
        if (!devices.isEmpty()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " is active on this host as " + devices
                    + "; deactivate it first");
        }
    }
}
