package io.storagebus.driver.file;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.PropertyDescriptor;
import io.storagebus.driver.PropertyType;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.DirectoryDriver;
import io.storagebus.driver.support.DirectoryFence;
import io.storagebus.driver.support.LocalFiles;
import io.storagebus.driver.support.QemuImg;
import io.storagebus.driver.support.VolumeFiles;
import io.storagebus.driver.support.VolumeMeta;

/**
 * Volumes as files in a directory on any POSIX filesystem (local, NFS, ...): sparse or
 * preallocated raw, or qcow2; clones are qcow2 overlays on their source; snapshots of qcow2
 * volumes are layers of a chain ({@link SnapshotChain}). See {@link VolumeFiles} for the layout.
 */
public final class FileDriver extends DirectoryDriver {
    public static final String NAME = "file";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.THIN, Capability.SHARED, Capability.CLONE_COW, Capability.SNAPSHOT, Capability.RESIZE);
    }

    @Override
    public List<PropertyDescriptor> properties() {
        return List.of(PropertyDescriptor.required(PATH, PropertyType.PATH,
                "absolute path of an existing, writable directory that holds the domain's volumes"));
    }

    @Override
    public VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta meta = new VolumeMeta(spec.volumeId(), spec.name(), spec.virtualSize(), spec.format(), spec.allocation(),
                spec.volumeId() + "." + spec.format().name().toLowerCase(Locale.ROOT), null);
        var existing = existing(domain, files, meta);
        if (existing.isPresent()) {
            return existing.get();
        }
        boolean preallocate = spec.allocation() == Allocation.PREALLOCATED;
        if (preallocate) {
            LocalFiles.requireFreeSpace(files.volumesDir(), spec.virtualSize());
        }
        return createFile(domain, files, meta, tmp -> {
            if (spec.format() == VolumeFormat.RAW && !preallocate) {
                // A sparse file needs no tool: set its length and let the filesystem allocate on write.
                try (RandomAccessFile raf = new RandomAccessFile(tmp.toFile(), "rw")) {
                    raf.setLength(spec.virtualSize());
                }
            } else {
                QemuImg.create(tmp, spec.format(), spec.virtualSize(), preallocate);
            }
        });
    }

    /** Replaces the data file atomically: the new content is written beside it (sparse), then moved over it. */
    @Override
    public void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        if (!files.children(meta.volumeId()).isEmpty()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " backs clones; its data cannot be replaced");
        }
        if (!meta.snapshots().isEmpty()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " has snapshots; its data cannot be replaced");
        }
        replace(domain, files, meta, volume, data, length);
    }

    /** The new top of an imported chain is written as a volume's data is, snapshots or not: nothing is above it yet. */
    @Override
    protected void fillTop(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        VolumeFiles files = files(domain);
        replace(domain, files, files.liveOrThrow(volume.volumeId()), volume, data, length);
    }

    private void replace(DomainContext domain, VolumeFiles files, VolumeMeta meta, VolumeUri volume, InputStream data, long length)
            throws DriverException {
        files.removeOlderTermsTemporaries(domain.epoch());
        Path tmp = files.temporary(meta.volumeId(), "writing", domain.epoch());
        try {
            Files.deleteIfExists(tmp);
            long copied = LocalFiles.copySparse(data, tmp, length);
            if (copied != length) {
                throw new DriverException(DriverException.Code.IO_ERROR, "stream ended after " + copied + " of " + length + " bytes");
            }
        } catch (IOException e) {
            VolumeFiles.deleteQuietly(tmp);
            throw VolumeFiles.ioError("cannot write volume " + volume, e);
        } catch (DriverException e) {
            VolumeFiles.deleteQuietly(tmp);
            throw e;
        }
        try {
            fenced(domain, "write", meta.volumeId(), () -> {
                try {
                    VolumeFiles.move(tmp, files.dataOf(meta));
                } catch (IOException e) {
                    throw VolumeFiles.ioError("cannot replace data of " + volume, e);
                }
                if (meta.parent() != null) {
                    // The written image stands on its own; it no longer depends on the clone source.
                    files.writeMeta(meta.withParent(null));
                }
                return null;
            });
        } finally {
            VolumeFiles.deleteQuietly(tmp);
        }
    }

    /** A qcow2 overlay on the source: instant, and it shares the source's data until written. */
    @Override
    public VolumeInfo clone(DomainContext domain, VolumeUri source, VolumeSpec clone) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta parent = files.liveOrThrow(source.volumeId());
        if (clone.format() != VolumeFormat.QCOW2) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "clones in a file domain are qcow2 overlays; ask for format QCOW2");
        }
        if (clone.virtualSize() < parent.virtualSize()) {
            throw new DriverException(DriverException.Code.INVALID_SPEC,
                    "a clone cannot be smaller than its source (" + parent.virtualSize() + " bytes)");
        }
        VolumeMeta meta = new VolumeMeta(clone.volumeId(), clone.name(), clone.virtualSize(), VolumeFormat.QCOW2, Allocation.THIN,
                clone.volumeId() + ".qcow2", parent.volumeId());
        var existing = existing(domain, files, meta);
        if (existing.isPresent()) {
            return existing.get();
        }
        return createFile(domain, files, meta,
                tmp -> QemuImg.createOverlay(tmp, parent.dataFile(), parent.format(), clone.virtualSize()));
    }

    @Override
    protected void checkRemovable(VolumeFiles files, VolumeMeta meta, VolumeUri volume) throws DriverException {
        List<String> children = files.children(meta.volumeId());
        if (!children.isEmpty()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " backs clones " + children);
        }
    }
}
