package io.storagebus.driver.support;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.Fence;
import io.storagebus.driver.MergePlan;
import io.storagebus.driver.PropertyViolation;
import io.storagebus.driver.SnapshotInfo;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeImage;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeCopier;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeUri;

/**
 * What drivers that keep each volume as a file in the domain's {@code path} directory share:
 * metadata, info, read, delink/restore/purge, destroy and list. Subclasses decide how data is
 * created and written, and what makes a volume impossible to remove.
 */
public abstract class DirectoryDriver implements StorageDriver {
    public static final String PATH = "path";

    @Override
    public List<PropertyViolation> validate(Map<String, String> properties) {
        return LocalFiles.directoryViolations(PATH, Path.of(properties.get(PATH)));
    }

    /**
     * {@code dir:} and the directory, with symbolic links resolved where it exists: the same for
     * every directory driver, so a {@code file} and a {@code blockfile} domain cannot share one.
     */
    @Override
    public String storageId(Map<String, String> properties) {
        Path dir = Path.of(properties.get(PATH)).normalize();
        try {
            return "dir:" + dir.toRealPath();
        } catch (IOException e) {
            return "dir:" + dir;
        }
    }

    protected static VolumeFiles files(DomainContext domain) {
        return new VolumeFiles(domain.path(PATH));
    }

    /** Bytes the volume takes on the storage. */
    protected long actualSize(Path data) throws DriverException {
        return VolumeFiles.actualBytes(data);
    }

    /** Throws CONFLICT when the volume must not be delinked or destroyed now (clones, attached devices). */
    protected abstract void checkRemovable(VolumeFiles files, VolumeMeta meta, VolumeUri volume) throws DriverException;

    /**
     * For idempotent creates: the live volume if one with this spec exists, nothing if the id is
     * free, CONFLICT if the id is taken by another spec or by a delinked volume.
     */
    protected Optional<VolumeInfo> existing(DomainContext domain, VolumeFiles files, VolumeMeta wanted) throws DriverException {
        var live = files.live(wanted.volumeId());
        if (live.isPresent()) {
            VolumeMeta m = live.get();
            if (m.virtualSize() == wanted.virtualSize() && m.format() == wanted.format() && m.allocation() == wanted.allocation()
                    && Objects.equals(m.parent(), wanted.parent())) {
                return Optional.of(info(domain, files, m));
            }
            throw new DriverException(DriverException.Code.CONFLICT,
                    "volume " + wanted.volumeId() + " already exists in domain " + domain.id() + " with another spec");
        }
        if (files.delinked(wanted.volumeId()).isPresent()) {
            throw new DriverException(DriverException.Code.CONFLICT,
                    "a delinked volume " + wanted.volumeId() + " exists in domain " + domain.id() + "; restore or purge it first");
        }
        return Optional.empty();
    }

    @Override
    public VolumeInfo info(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        return info(domain, files, files.liveOrThrow(volume.volumeId()));
    }

    protected VolumeInfo info(DomainContext domain, VolumeFiles files, VolumeMeta m) throws DriverException {
        return info(domain, files.dataOf(m), m);
    }

    private VolumeInfo info(DomainContext domain, Path data, VolumeMeta m) throws DriverException {
        try {
            return new VolumeInfo(new VolumeUri(domain.id(), m.volumeId()), m.name(), data.toUri().toString(), m.virtualSize(),
                    Files.size(data), actualSize(data), m.format(), m.allocation());
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot read size of " + data, e);
        }
    }

    @Override
    public InputStream read(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        Path data = files.dataOf(files.liveOrThrow(volume.volumeId()));
        try {
            return SparseFile.open(data, Files.size(data)); // a thin volume's holes are not read
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot read " + data, e);
        }
    }

    /** The domain's {@code dom_md/epoch}, under the directory's lock (see {@link DirectoryFence}). */
    @Override
    public Fence fence() {
        return DirectoryFence.at(domain -> domain.path(PATH));
    }

    /**
     * Called under the domain's lock before a new volume's data, made in {@code made}, becomes
     * the volume: the place to check, atomically with the act, that the domain has room for it.
     */
    protected void admit(DomainContext domain, VolumeFiles files, Path made) throws DriverException, IOException {
    }

    /** Called after the domain's layers changed otherwise than by a create or an extend (deleted, snapshotted, merged). */
    protected void layersChanged(DomainContext domain) {
    }

    /**
     * Grows the top layer's data, then records the new size in the volume's metadata, both under
     * the domain's lock, where the size is read again: a resize that died between the two is
     * finished by the retry, which finds the metadata's size still below the one asked for.
     */
    @Override
    public VolumeInfo resize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta resized = fenced(domain, "resize", volume.volumeId(), () -> {
            VolumeMeta meta = growable(files, volume, newVirtualSize);
            if (newVirtualSize == meta.virtualSize()) {
                return meta;
            }
            grow(domain, files, meta, newVirtualSize);
            VolumeMeta grown = meta.withVirtualSize(newVirtualSize);
            files.writeMeta(grown);
            return grown;
        });
        return info(domain, files, resized);
    }

    @Override
    public void prepareLiveResize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        VolumeFiles files = files(domain);
        fenced(domain, "prepareLiveResize", volume.volumeId(), () -> {
            VolumeMeta meta = growable(files, volume, newVirtualSize);
            if (newVirtualSize > meta.virtualSize()) {
                makeRoom(domain, files, meta, newVirtualSize);
            }
            return null;
        });
    }

    /** The live volume, if it may grow to {@code newVirtualSize}: never smaller, and not a clone's template. */
    private static VolumeMeta growable(VolumeFiles files, VolumeUri volume, long newVirtualSize) throws DriverException {
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        if (newVirtualSize < meta.virtualSize()) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "volume " + volume + " is " + meta.virtualSize()
                    + " bytes; a volume only grows, so " + newVirtualSize + " is refused");
        }
        if (newVirtualSize > meta.virtualSize()) {
            List<String> children = files.children(meta.volumeId());
            if (!children.isEmpty()) {
                throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " backs clones " + children
                        + "; a template does not change");
            }
        }
        return meta;
    }

    /**
     * What a live resize needs before the guest's QEMU grows the image it has open: here nothing,
     * since QEMU grows a file itself (a preallocated raw file's new end then stays sparse); a
     * driver of devices grows the device. Called under the domain's lock.
     */
    protected void makeRoom(DomainContext domain, VolumeFiles files, VolumeMeta meta, long newVirtualSize) throws DriverException {
    }

    /**
     * Makes the top layer show {@code newVirtualSize} bytes: a qcow2 layer's header (its
     * snapshots below keep their sizes, and read as zeros past them), a raw file's length; not
     * when a guest's QEMU grew it already. Called under the domain's lock.
     */
    protected void grow(DomainContext domain, VolumeFiles files, VolumeMeta meta, long newVirtualSize) throws DriverException {
        Path data = files.dataOf(meta);
        if (QemuImg.virtualSize(data, meta.format()) >= newVirtualSize) {
            return;
        }
        boolean preallocated = meta.allocation() == Allocation.PREALLOCATED && meta.format() == VolumeFormat.RAW;
        if (preallocated) {
            LocalFiles.requireFreeSpace(files.volumesDir(), newVirtualSize - meta.virtualSize());
        }
        QemuImg.resize(data, meta.format(), newVirtualSize, preallocated);
    }

    /** Runs a metadata change of the domain under its fencing epoch (see {@link DirectoryFence}). */
    protected static <T> T fenced(DomainContext domain, String operation, String volumeId, DirectoryFence.Write<T> write)
            throws DriverException {
        return DirectoryFence.guard(domain.path(PATH), domain, operation, volumeId, write);
    }

    @Override
    public void delink(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        fenced(domain, "delink", volume.volumeId(), () -> {
            VolumeMeta meta = files.liveOrThrow(volume.volumeId());
            checkRemovable(files, meta, volume);
            files.delink(meta);
            return null;
        });
        layersChanged(domain);
    }

    @Override
    public VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeInfo restored = fenced(domain, "restore", volume.volumeId(), () -> {
            VolumeMeta meta = delinkedOrThrow(files, volume);
            if (files.live(volume.volumeId()).isPresent()) {
                throw new DriverException(DriverException.Code.CONFLICT, "a live volume " + volume + " exists already");
            }
            files.restore(meta);
            return info(domain, files, meta);
        });
        layersChanged(domain);
        return restored;
    }

    /** Per-volume lease epochs beside the volumes: see {@link ActivationGuard}. */
    @Override
    public void admitLease(DomainContext domain, VolumeUri volume, long leaseEpoch) throws DriverException {
        files(domain).liveOrThrow(volume.volumeId());
        ActivationGuard.admit(domain.path(PATH), volume.volumeId(), leaseEpoch);
    }

    @Override
    public void purge(DomainContext domain, VolumeUri volume) throws DriverException {
        VolumeFiles files = files(domain);
        fenced(domain, "purge", volume.volumeId(), () -> {
            files.delete(delinkedOrThrow(files, volume), true);
            ActivationGuard.forget(domain.path(PATH), volume.volumeId());
            return null;
        });
        layersChanged(domain);
    }

    private static VolumeMeta delinkedOrThrow(VolumeFiles files, VolumeUri volume) throws DriverException {
        return files.delinked(volume.volumeId()).orElseThrow(() ->
                new DriverException(DriverException.Code.NOT_FOUND, "no delinked volume " + volume));
    }

    @Override
    public void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException {
        VolumeFiles files = files(domain);
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        checkRemovable(files, meta, volume);
        if (wipe) {
            LocalFiles.zero(files.dataOf(meta));
        }
        fenced(domain, "destroy", volume.volumeId(), () -> {
            VolumeMeta current = files.liveOrThrow(volume.volumeId());
            checkRemovable(files, current, volume);
            files.delete(current, false);
            ActivationGuard.forget(domain.path(PATH), volume.volumeId());
            return null;
        });
        layersChanged(domain);
    }

    @Override
    public List<VolumeInfo> list(DomainContext domain) throws DriverException {
        VolumeFiles files = files(domain);
        List<VolumeInfo> result = new ArrayList<>();
        for (VolumeMeta m : files.listLive()) {
            result.add(info(domain, files, m));
        }
        return result;
    }

    @Override
    public List<VolumeInfo> listDelinked(DomainContext domain) throws DriverException {
        VolumeFiles files = files(domain);
        List<VolumeInfo> result = new ArrayList<>();
        for (VolumeMeta m : files.listDelinked()) {
            result.add(info(domain, files.delinkedDir().resolve(m.dataFile()), m));
        }
        return result;
    }

    /**
     * Makes a new volume's data in a temporary file, then, under the fence, moves it into place
     * and writes the metadata that makes it a volume.
     */
    protected VolumeInfo createFile(DomainContext domain, VolumeFiles files, VolumeMeta meta, DataMaker maker) throws DriverException {
        files.removeOlderTermsTemporaries(domain.epoch());
        Path tmp = files.temporary(meta.volumeId(), "creating", domain.epoch());
        Path data = files.dataOf(meta);
        try {
            Files.deleteIfExists(tmp);
            maker.make(tmp);
            return fenced(domain, "create", meta.volumeId(), () -> {
                try {
                    admit(domain, files, tmp);
                    VolumeFiles.move(tmp, data);
                    files.writeMeta(meta);
                    return info(domain, files, meta);
                } catch (IOException | DriverException e) {
                    // Only this call's own data, moved under the fence, is removed: outside it
                    // the path may belong to a newer SPM's create of the same volume.
                    VolumeFiles.deleteQuietly(data);
                    layersChanged(domain);
                    throw e instanceof IOException io ? VolumeFiles.ioError("cannot create volume " + meta.volumeId(), io) : (DriverException) e;
                }
            });
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot create volume " + meta.volumeId(), e);
        } finally {
            VolumeFiles.deleteQuietly(tmp);
        }
    }

    /** Writes a new volume's data file. */
    @FunctionalInterface
    protected interface DataMaker {
        void make(Path file) throws IOException, DriverException;
    }

    // Snapshots, for the directory drivers that declare Capability.SNAPSHOT: a qcow2 chain of files.

    @Override
    public VolumeImage export(DomainContext domain, VolumeUri volume, String snapshotId, boolean incremental) throws DriverException {
        if (snapshotId == null && files(domain).liveOrThrow(volume.volumeId()).snapshots().isEmpty()) {
            return StorageDriver.super.export(domain, volume, null, false);
        }
        return chain(domain).export(volume, snapshotId, incremental);
    }

    @Override
    public SnapshotInfo snapshot(DomainContext domain, VolumeUri volume, String snapshotId, String name, boolean pending)
            throws DriverException {
        try {
            return chain(domain).snapshot(volume, snapshotId, name, pending);
        } finally {
            layersChanged(domain);
        }
    }

    /**
     * A chain copied from elsewhere, a layer at a time: a snapshot freezes the top, the layer's
     * bytes fill the new top ({@link #fillTop}), are read back, and the top's header is then made
     * to name the frozen layer below, which the bytes from elsewhere did not.
     */
    @Override
    public String importLayer(DomainContext domain, VolumeUri volume, String snapshotId, String name, InputStream top, long length)
            throws DriverException {
        try {
            SnapshotChain chain = chain(domain);
            chain.snapshot(volume, snapshotId, name, false);
            fillTop(domain, volume, top, length);
            String readBack;
            try {
                readBack = VolumeCopier.sha256(read(domain, volume), length);
            } catch (IOException e) {
                throw VolumeFiles.ioError("cannot read back the layer imported into " + volume, e);
            }
            chain.backTopOntoNewestLayer(volume);
            return readBack;
        } finally {
            layersChanged(domain);
        }
    }

    /** Puts a layer's bytes into the volume's new, empty top (see {@link #importLayer}); by default as {@link #write} does. */
    protected void fillTop(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        write(domain, volume, data, length);
    }

    @Override
    public SnapshotInfo commitSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        try {
            return chain(domain).commit(volume, snapshotId);
        } finally {
            layersChanged(domain);
        }
    }

    @Override
    public void abortSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        try {
            chain(domain).abort(volume, snapshotId);
        } finally {
            layersChanged(domain);
        }
    }

    @Override
    public java.util.Optional<String> parentOf(DomainContext domain, VolumeUri volume) throws DriverException {
        return java.util.Optional.ofNullable(files(domain).liveOrThrow(volume.volumeId()).parent());
    }

    @Override
    public List<SnapshotInfo> snapshots(DomainContext domain, VolumeUri volume) throws DriverException {
        return chain(domain).list(volume);
    }

    @Override
    public MergePlan beginMerge(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        try {
            return chain(domain).beginMerge(volume, snapshotId);
        } finally {
            layersChanged(domain);
        }
    }

    @Override
    public void finishMerge(DomainContext domain, VolumeUri volume, String snapshotId, boolean streamed) throws DriverException {
        try {
            chain(domain).finishMerge(volume, snapshotId, streamed);
        } finally {
            layersChanged(domain);
        }
    }

    private SnapshotChain chain(DomainContext domain) {
        return new SnapshotChain(domain, domain.path(PATH), layerFiles(domain));
    }

    /** How this driver names and sizes the layer files of a chain; plain growing qcow2 files unless a driver allocates. */
    protected SnapshotChain.LayerFiles layerFiles(DomainContext domain) {
        return SnapshotChain.LayerFiles.GROWING;
    }
}
