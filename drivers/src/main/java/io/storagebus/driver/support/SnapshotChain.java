package io.storagebus.driver.support;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.MergePlan;
import io.storagebus.driver.SnapshotInfo;
import io.storagebus.driver.SnapshotStatus;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeImage;
import io.storagebus.driver.VolumeUri;

/**
 * Snapshots of a volume kept as files in a directory domain, as a qcow2 chain: a snapshot
 * freezes the top layer and puts a new overlay on it ({@code <volumeId>.g<generation>.qcow2});
 * deleting one streams its data into the layer above and drops its file. Every change of the
 * chain is a metadata write under the domain's fence, and only one snapshot of a volume may be
 * {@link SnapshotStatus#PENDING} or {@link SnapshotStatus#MERGING} at a time.
 */
public final class SnapshotChain {
    /**
     * How a driver makes a chain's layer files: their names, and the room they get. Files simply
     * grow; a block-like driver allocates a layer as it does a volume and makes room in the child
     * before a merge copies a layer's data into it, as oVirt extends the top before a merge.
     */
    public interface LayerFiles {
        /** Plain qcow2 files that grow as they are written. */
        LayerFiles GROWING = new LayerFiles() {
        };

        /** File name of the top layer of {@code generation}. */
        default String name(VolumeMeta meta, int generation) {
            return meta.volumeId() + ".g" + generation + ".qcow2";
        }

        /** Gives a new, empty overlay its first allocation. */
        default void allocate(Path overlay, VolumeMeta meta) throws DriverException {
        }

        /** Before {@code layer}'s data is streamed into {@code child}: room for it there. */
        default void makeRoom(Path child, Path layer, VolumeMeta meta) throws DriverException {
        }
    }

    private final DomainContext domain;
    private final VolumeFiles files;
    private final Path root;
    private final LayerFiles layerFiles;

    public SnapshotChain(DomainContext domain, Path root, LayerFiles layerFiles) {
        this.domain = domain;
        this.root = root;
        this.files = new VolumeFiles(root);
        this.layerFiles = layerFiles;
    }

    public SnapshotInfo snapshot(VolumeUri volume, String snapshotId, String name, boolean pending) throws DriverException {
        return fenced("snapshot", volume, () -> {
            VolumeMeta meta = files.liveOrThrow(volume.volumeId());
            Optional<LayerMeta> existing = layer(meta, snapshotId);
            if (existing.isPresent()) {
                return info(meta, existing.get());
            }
            if (meta.format() != VolumeFormat.QCOW2) {
                throw new DriverException(DriverException.Code.INVALID_SPEC, "volume " + volume + " is " + meta.format()
                        + "; snapshots are qcow2 layers, so only qcow2 volumes have them");
            }
            requireIdle(meta, volume);
            int generation = meta.generation() + 1;
            String top = layerFiles.name(meta, generation);
            Path topPath = files.volumesDir().resolve(top);
            QemuImg.createOverlay(topPath, meta.dataFile(), VolumeFormat.QCOW2, meta.virtualSize());
            try {
                layerFiles.allocate(topPath, meta);
            } catch (DriverException e) {
                VolumeFiles.deleteQuietly(topPath);
                throw e;
            }
            LayerMeta layer = new LayerMeta(snapshotId, name, meta.dataFile(), System.currentTimeMillis(),
                    pending ? SnapshotStatus.PENDING : SnapshotStatus.READY);
            List<LayerMeta> layers = new ArrayList<>(meta.snapshots());
            layers.add(layer);
            VolumeMeta next = meta.withChain(top, generation, layers);
            try {
                files.writeMeta(next);
            } catch (DriverException e) {
                VolumeFiles.deleteQuietly(topPath);
                throw e;
            }
            return info(next, layer);
        });
    }

    /**
     * After a layer copied from elsewhere replaced the top: the top's header is made to name the
     * newest frozen layer, as an overlay made here does (only the name is written; the data is
     * the layer's as it was above the same content).
     */
    public void backTopOntoNewestLayer(VolumeUri volume) throws DriverException {
        fenced("import-layer", volume, () -> {
            VolumeMeta meta = files.liveOrThrow(volume.volumeId());
            List<LayerMeta> layers = meta.snapshots();
            if (layers.isEmpty()) {
                throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " has no frozen layer to back onto");
            }
            QemuImg.rebaseUnsafe(files.dataOf(meta), layers.get(layers.size() - 1).dataFile());
            return null;
        });
    }

    public SnapshotInfo commit(VolumeUri volume, String snapshotId) throws DriverException {
        return fenced("commit-snapshot", volume, () -> {
            VolumeMeta meta = files.liveOrThrow(volume.volumeId());
            LayerMeta layer = layerOrThrow(meta, volume, snapshotId);
            if (layer.status() == SnapshotStatus.MERGING) {
                throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshotId + " of " + volume + " is being merged");
            }
            if (layer.status() == SnapshotStatus.READY) {
                return info(meta, layer);
            }
            VolumeMeta next = meta.withChain(meta.dataFile(), meta.generation(), replace(meta, layer.withStatus(SnapshotStatus.READY)));
            files.writeMeta(next);
            return info(next, layer.withStatus(SnapshotStatus.READY));
        });
    }

    /** Undoes a pending snapshot: the overlay made for it goes and the frozen layer is the top again. */
    public void abort(VolumeUri volume, String snapshotId) throws DriverException {
        fenced("abort-snapshot", volume, () -> {
            VolumeMeta meta = files.liveOrThrow(volume.volumeId());
            Optional<LayerMeta> found = layer(meta, snapshotId);
            if (found.isEmpty()) {
                return null;
            }
            List<LayerMeta> layers = new ArrayList<>(meta.snapshots());
            if (found.get().status() != SnapshotStatus.PENDING || !layers.get(layers.size() - 1).equals(found.get())) {
                throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshotId + " of " + volume
                        + " is " + found.get().status() + "; only a pending snapshot can be undone");
            }
            layers.remove(layers.size() - 1);
            String overlay = meta.dataFile();
            files.writeMeta(meta.withChain(found.get().dataFile(), meta.generation(), layers));
            VolumeFiles.deleteQuietly(files.volumesDir().resolve(overlay));
            return null;
        });
    }

    public List<SnapshotInfo> list(VolumeUri volume) throws DriverException {
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        List<SnapshotInfo> result = new ArrayList<>();
        for (LayerMeta layer : meta.snapshots()) {
            result.add(info(meta, layer));
        }
        return result;
    }

    public MergePlan beginMerge(VolumeUri volume, String snapshotId) throws DriverException {
        return fenced("begin-merge", volume, () -> {
            VolumeMeta meta = files.liveOrThrow(volume.volumeId());
            LayerMeta layer = layerOrThrow(meta, volume, snapshotId);
            if (layer.status() != SnapshotStatus.MERGING) {
                requireIdle(meta, volume);
                if (!files.children(meta.volumeId()).isEmpty()) {
                    throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " backs clones "
                            + files.children(meta.volumeId()) + "; its snapshots stay until the clones are gone");
                }
                MergePlan plan = plan(meta, snapshotId);
                layerFiles.makeRoom(Path.of(plan.child()), Path.of(plan.layer()), meta);
                meta = meta.withChain(meta.dataFile(), meta.generation(), replace(meta, layer.withStatus(SnapshotStatus.MERGING)));
                files.writeMeta(meta);
            }
            return plan(meta, snapshotId);
        });
    }

    /**
     * Ends a merge: offline ({@code streamed} false) the child is rebased onto the base first,
     * which copies the layer's data into it; either way the child must back onto the base before
     * the layer is dropped, so no data is lost if the stream did not finish.
     */
    public void finishMerge(VolumeUri volume, String snapshotId, boolean streamed) throws DriverException {
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        if (layer(meta, snapshotId).isEmpty()) {
            return;
        }
        MergePlan plan = plan(meta, snapshotId);
        if (layer(meta, snapshotId).get().status() != SnapshotStatus.MERGING) {
            throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshotId + " of " + volume + " is not being merged");
        }
        Path child = Path.of(plan.child());
        Path base = plan.base() == null ? null : Path.of(plan.base());
        if (!streamed) {
            QemuImg.rebase(child, base == null ? null : base.getFileName().toString());
        }
        Path backing = QemuImg.backingFile(child);
        if (base == null ? backing != null : !base.normalize().equals(backing)) {
            throw new DriverException(DriverException.Code.CONFLICT, "the merge of snapshot " + snapshotId + " of " + volume
                    + " has not finished: " + child.getFileName() + " still backs onto " + backing);
        }
        fenced("finish-merge", volume, () -> {
            VolumeMeta current = files.liveOrThrow(volume.volumeId());
            Optional<LayerMeta> layer = layer(current, snapshotId);
            if (layer.isPresent()) {
                List<LayerMeta> layers = new ArrayList<>(current.snapshots());
                layers.remove(layer.get());
                files.writeMeta(current.withChain(current.dataFile(), current.generation(), layers));
                VolumeFiles.deleteQuietly(files.volumesDir().resolve(layer.get().dataFile()));
            }
            return null;
        });
    }

    /**
     * A snapshot's image for copying out: its own layer as it is (incremental), or the chain up
     * to it flattened into a temporary standalone image next to the volume. No snapshot means
     * the top: its own layer (incremental) or the whole volume flattened.
     */
    public VolumeImage export(VolumeUri volume, String snapshotId, boolean incremental) throws DriverException {
        VolumeMeta meta = files.liveOrThrow(volume.volumeId());
        Path image;
        if (snapshotId == null) {
            image = files.dataOf(meta);
            if (incremental) {
                // The top's own layer, its header naming the layer below: a chain is copied a layer at a time.
                return open(image, () -> { });
            }
        } else {
            LayerMeta layer = layerOrThrow(meta, volume, snapshotId);
            if (layer.status() != SnapshotStatus.READY) {
                throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshotId + " of " + volume + " is " + layer.status());
            }
            image = files.volumesDir().resolve(layer.dataFile());
            if (incremental) {
                if (meta.snapshots().indexOf(layer) == 0) {
                    throw new DriverException(DriverException.Code.INVALID_SPEC, "snapshot " + snapshotId + " of " + volume
                            + " is the base of its chain: it has no parent to be a difference to; back it up whole");
                }
                return open(image, () -> { });
            }
            if (meta.snapshots().indexOf(layer) == 0 && meta.parent() == null && layerFiles == LayerFiles.GROWING) {
                // The oldest layer of a volume that is no clone backs onto nothing: it is the snapshot whole, as
                // compact as a flattened copy would be (a block driver's layer holds its whole allocation: flattened).
                return open(image, () -> { });
            }
        }
        Path flat = files.temporary(meta.volumeId(), "export");
        QemuImg.flatten(image, flat);
        return open(flat, () -> VolumeFiles.deleteQuietly(flat));
    }

    private static VolumeImage open(Path image, java.io.Closeable cleanup) throws DriverException {
        try {
            InputStream in = Files.newInputStream(image);
            return new VolumeImage(in, Files.size(image), VolumeFormat.QCOW2, cleanup);
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot open " + image, e);
        }
    }

    private MergePlan plan(VolumeMeta meta, String snapshotId) throws DriverException {
        List<LayerMeta> layers = meta.snapshots();
        int i = indexOf(meta, snapshotId);
        String child = i + 1 < layers.size() ? layers.get(i + 1).dataFile() : meta.dataFile();
        String base = i > 0 ? layers.get(i - 1).dataFile() : null;
        Path dir = files.volumesDir();
        return new MergePlan(snapshotId, dir.resolve(layers.get(i).dataFile()).toString(), dir.resolve(child).toString(),
                base == null ? null : dir.resolve(base).toString());
    }

    private SnapshotInfo info(VolumeMeta meta, LayerMeta layer) throws DriverException {
        int i = indexOf(meta, layer.snapshotId());
        return new SnapshotInfo(layer.snapshotId(), layer.name(), files.volumesDir().resolve(layer.dataFile()).toUri().toString(),
                i > 0 ? meta.snapshots().get(i - 1).snapshotId() : null, layer.createdAt(), layer.status());
    }

    private static void requireIdle(VolumeMeta meta, VolumeUri volume) throws DriverException {
        for (LayerMeta layer : meta.snapshots()) {
            if (layer.status() != SnapshotStatus.READY) {
                throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + layer.snapshotId() + " of " + volume
                        + " is " + layer.status() + "; one snapshot operation at a time");
            }
        }
    }

    private static Optional<LayerMeta> layer(VolumeMeta meta, String snapshotId) {
        return meta.snapshots().stream().filter(l -> l.snapshotId().equals(snapshotId)).findFirst();
    }

    private static LayerMeta layerOrThrow(VolumeMeta meta, VolumeUri volume, String snapshotId) throws DriverException {
        return layer(meta, snapshotId).orElseThrow(() -> new DriverException(DriverException.Code.NOT_FOUND,
                "volume " + volume + " has no snapshot " + snapshotId));
    }

    private static int indexOf(VolumeMeta meta, String snapshotId) {
        List<LayerMeta> layers = meta.snapshots();
        for (int i = 0; i < layers.size(); i++) {
            if (layers.get(i).snapshotId().equals(snapshotId)) {
                return i;
            }
        }
        throw new IllegalStateException("no snapshot " + snapshotId);
    }

    private static List<LayerMeta> replace(VolumeMeta meta, LayerMeta changed) {
        return meta.snapshots().stream().map(l -> l.snapshotId().equals(changed.snapshotId()) ? changed : l).toList();
    }

    private <T> T fenced(String operation, VolumeUri volume, DirectoryFence.Write<T> write) throws DriverException {
        return DirectoryFence.guard(root, domain, operation, volume.volumeId(), write);
    }
}
