package io.storagebus.driver;

import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A storage driver: how volumes of one kind of storage are kept. Drivers are stateless; every
 * operation receives the domain (its id and validated property bag), so one instance serves
 * every domain of its kind. Volumes are named by {@link VolumeUri}; data moves as streams.
 *
 * <p>The seven basic operations are {@link #read}, {@link #write}, {@link #copyTo},
 * {@link #clone}, {@link #delink} (with {@link #restore} and {@link #purge}), {@link #destroy}
 * and {@link #list}; {@link #export} opens a volume or one of its snapshots for copying out. The optional ones are gated by {@link Capability}; their default
 * implementations refuse with {@link DriverException.Code#UNSUPPORTED}. Callers get drivers
 * from the {@link DriverRegistry}, which wraps each in a {@link CheckedDriver} that refuses
 * URIs of other domains and undeclared capabilities before the driver is called, around a
 * {@link FencedDriver} that lets a mutating operation run only under the newest SPM epoch that
 * wrote the domain: any of them may throw {@link FencedException} (unchecked).
 *
 * <p>Every operation either completes or leaves nothing of itself behind.
 */
public interface StorageDriver {

    /** Short stable name used in domain definitions, e.g. {@code file}. */
    String name();

    /**
     * Where this driver's storage records the highest SPM epoch that wrote a domain. The
     * {@link FencedDriver} around every driver advances it before each mutating operation, so a
     * driver writes under its fence without calling it; a driver that keeps no pool metadata
     * needs none.
     */
    default Fence fence() {
        return Fence.NONE;
    }

    Set<Capability> capabilities();

    /** Descriptors of the properties a domain of this driver takes. */
    List<PropertyDescriptor> properties();

    /**
     * The driver's own runtime checks of a bag that already matches {@link #properties()}, e.g.
     * that a directory exists and is writable. Empty when the bag is usable.
     */
    List<PropertyViolation> validate(Map<String, String> properties);

    /**
     * What identifies the storage a bag points at (a directory, a VG, a bucket and prefix), so
     * that no two domains are ever defined on the same storage. Never contains a secret.
     */
    String storageId(Map<String, String> properties);

    /**
     * Creates a volume; idempotent by volume id: creating an existing volume with the same spec
     * returns it, with another spec fails with {@link DriverException.Code#CONFLICT}.
     */
    VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException;

    /** The volume, or {@link DriverException.Code#NOT_FOUND}. Delinked volumes are not found. */
    VolumeInfo info(DomainContext domain, VolumeUri volume) throws DriverException;

    /** Streams the stored bytes of the volume: exactly {@link VolumeInfo#allocatedSize()} bytes. */
    InputStream read(DomainContext domain, VolumeUri volume) throws DriverException;

    /**
     * Replaces the stored bytes of the volume with {@code length} bytes from {@code data}, in the
     * volume's format. Block volumes must already be large enough.
     */
    void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException;

    /**
     * Copies the volume to another (or the same) driver as a stream: creates the target from
     * {@code targetSpec}, streams the data, and verifies a SHA-256 checksum by reading the
     * target back. A failed copy leaves no target volume.
     */
    default CopyResult copyTo(DomainContext domain, VolumeUri volume, StorageDriver target, DomainContext targetDomain,
                              VolumeSpec targetSpec, CopyListener listener) throws DriverException {
        return VolumeCopier.copy(this, domain, volume, target, targetDomain, targetSpec, listener);
    }

    /**
     * A new volume in the same domain with the same content: a copy-on-write overlay when the
     * driver declares {@link Capability#CLONE_COW}, a full copy otherwise.
     */
    default VolumeInfo clone(DomainContext domain, VolumeUri source, VolumeSpec clone) throws DriverException {
        return copyTo(domain, source, this, domain, clone, CopyListener.NONE).target();
    }

    /** Non-destructive delete: the volume leaves every listing but can be restored until purged. */
    void delink(DomainContext domain, VolumeUri volume) throws DriverException;

    /** Brings a delinked volume back. */
    VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException;

    /** Deletes a delinked volume for good. */
    void purge(DomainContext domain, VolumeUri volume) throws DriverException;

    /** Destructive delete of a live volume: overwritten with zeros first when {@code wipe}, then deleted. */
    void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException;

    /** Live volumes of the domain (not delinked ones), with their sizes. */
    List<VolumeInfo> list(DomainContext domain) throws DriverException;

    /** Delinked volumes of the domain, which {@link #restore} can bring back. */
    List<VolumeInfo> listDelinked(DomainContext domain) throws DriverException;

    /**
     * Opens the volume's data for copying out. With {@code snapshotId} null: the volume as it is
     * now. With a snapshot ({@link Capability#SNAPSHOT}): the whole chain up to it flattened into
     * one image, or with {@code incremental} only its own layer, a difference to its parent
     * snapshot ({@link SnapshotInfo#parentSnapshotId()}).
     */
    default VolumeImage export(DomainContext domain, VolumeUri volume, String snapshotId, boolean incremental) throws DriverException {
        if (snapshotId != null) {
            throw CheckedDriver.unsupported(this, Capability.SNAPSHOT, "export a snapshot");
        }
        VolumeInfo info = info(domain, volume);
        return new VolumeImage(read(domain, volume), info.allocatedSize(), info.format(), () -> { });
    }

    /**
     * {@link Capability#SNAPSHOT}: freezes the volume's current top layer as snapshot
     * {@code snapshotId} and puts a new, empty qcow2 layer on it. Idempotent by snapshot id.
     * {@code pending}: a guest still writes the old top until its host switches over; the
     * snapshot stays {@link SnapshotStatus#PENDING} until {@link #commitSnapshot} or
     * {@link #abortSnapshot}. The volume's location afterwards is the new top.
     */
    default SnapshotInfo snapshot(DomainContext domain, VolumeUri volume, String snapshotId, String name, boolean pending)
            throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.SNAPSHOT, "snapshot");
    }

    /**
     * Rebuilds, one layer at a time, a chain copied from elsewhere: freezes the volume's top
     * layer as snapshot {@code snapshotId} ({@code name}), then makes the {@code length} bytes of
     * {@code top}, a qcow2 layer whatever backing file its header names, the new top above it.
     * Returns the SHA-256 of those bytes as read back from the storage (before the layer's
     * backing name is set to the frozen layer), for the caller to compare with what it sent.
     */
    default String importLayer(DomainContext domain, VolumeUri volume, String snapshotId, String name, InputStream top, long length)
            throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.SNAPSHOT, "import a snapshot layer");
    }

    /** {@link Capability#SNAPSHOT}: the guest's host switched to the new top; the snapshot is a point in time. */
    default SnapshotInfo commitSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.SNAPSHOT, "commit a snapshot");
    }

    /** {@link Capability#SNAPSHOT}: the host could not switch: the new top goes, the old top is the top again. */
    default void abortSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.SNAPSHOT, "abort a snapshot");
    }

    /**
     * {@link Capability#CLONE_COW}: the volume a copy-on-write clone was made from, as the
     * storage's own metadata says, so a domain attached again keeps its templates.
     */
    default java.util.Optional<String> parentOf(DomainContext domain, VolumeUri volume) throws DriverException {
        return java.util.Optional.empty();
    }

    /** {@link Capability#SNAPSHOT}: the volume's snapshots, oldest first. */
    default java.util.List<SnapshotInfo> snapshots(DomainContext domain, VolumeUri volume) throws DriverException {
        return java.util.List.of();
    }

    /**
     * {@link Capability#SNAPSHOT}: marks the snapshot {@link SnapshotStatus#MERGING} and says which
     * layers a live merge streams; {@link #finishMerge} removes it once its data is in the child.
     */
    default MergePlan beginMerge(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.SNAPSHOT, "merge a snapshot");
    }

    /**
     * {@link Capability#SNAPSHOT}: ends a merge begun with {@link #beginMerge}. With {@code streamed}
     * false nobody streamed the data (no guest runs): the driver merges it offline first.
     */
    default void finishMerge(DomainContext domain, VolumeUri volume, String snapshotId, boolean streamed) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.SNAPSHOT, "merge a snapshot");
    }

    /**
     * {@link Capability#BACKUP_TARGET}: stores the manifest of a finished backup whose data is the
     * volume {@code backupId}. Written last, so a backup without a manifest never finished.
     */
    default void putManifest(DomainContext domain, String backupId, byte[] manifest) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.BACKUP_TARGET, "store a backup manifest");
    }

    /** {@link Capability#BACKUP_TARGET}: the manifest of a finished backup, or empty. */
    default java.util.Optional<byte[]> manifest(DomainContext domain, String backupId) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.BACKUP_TARGET, "read a backup manifest");
    }

    /** {@link Capability#BACKUP_TARGET}: ids of the backups with a manifest. */
    default java.util.List<String> manifests(DomainContext domain) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.BACKUP_TARGET, "list backup manifests");
    }

    /** {@link Capability#BACKUP_TARGET}: removes a backup's manifest (first, so it is no longer listed) and its data. */
    default void deleteBackup(DomainContext domain, String backupId) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.BACKUP_TARGET, "delete a backup");
    }

    /**
     * {@link Capability#RESIZE}: grows the volume's virtual size to {@code newVirtualSize}, its
     * snapshots and data kept; a volume never shrinks ({@link DriverException.Code#INVALID_SPEC}),
     * and the size it has already is no change (a retried command). An image a guest's QEMU has
     * grown already (live, after {@link #prepareLiveResize}) is not grown again: only its size is
     * recorded.
     */
    default VolumeInfo resize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.RESIZE, "resize");
    }

    /**
     * {@link Capability#RESIZE}, live, first step: makes room under an image a running guest has
     * open for it to show {@code newVirtualSize} bytes (a raw volume's device grown to it, a
     * preallocated volume's allocation), checked as {@link #resize} checks. The image itself is
     * left to the guest's QEMU ({@code block_resize}), the recorded size to {@link #resize}
     * afterwards. Idempotent.
     */
    default void prepareLiveResize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.RESIZE, "resize live");
    }

    /** {@link Capability#EXTENDABLE}: grows the allocated size to at least {@code newAllocatedSize}. */
    default VolumeInfo extend(DomainContext domain, VolumeUri volume, long newAllocatedSize) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.EXTENDABLE, "extend");
    }

    /**
     * {@link Capability#EXTENDABLE}: bytes the domain can still give to extends (free extents of
     * a VG, room left under a directory's capacity), or empty when the driver cannot tell.
     */
    default java.util.OptionalLong freeSpace(DomainContext domain) throws DriverException {
        return java.util.OptionalLong.empty();
    }

    /**
     * {@link Capability#EXTENDABLE}: bytes the domain holds in all, used and free (a VG's size, a
     * directory's capacity or its file system's size), or empty when the driver cannot tell. Read
     * seldom (for the capacity the managers show), so it may cost a command.
     */
    default java.util.OptionalLong totalSpace(DomainContext domain) throws DriverException {
        return java.util.OptionalLong.empty();
    }

    /** {@link Capability#REFRESH}: makes this host see a size the SPM changed. */
    default void refresh(DomainContext domain, VolumeUri volume) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.REFRESH, "refresh");
    }

    /**
     * Records on the storage, where the driver can, that the volume is about to be used on this
     * host under lease epoch {@code leaseEpoch}, refusing ({@code STALE_LEASE}) if it was already
     * used under a newer one: a host that lost the lease with an activation in flight stays off.
     * Made before every prepare; drivers whose hosts do not write the shared storage record nothing.
     */
    default void admitLease(DomainContext domain, VolumeUri volume, long leaseEpoch) throws DriverException {
    }

    /** {@link Capability#ACTIVATE}: prepares the volume on this host; returns the path a guest opens. */
    default String activate(DomainContext domain, VolumeUri volume) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.ACTIVATE, "activate");
    }

    /** {@link Capability#ACTIVATE}: releases what {@link #activate} set up on this host. */
    default void deactivate(DomainContext domain, VolumeUri volume) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.ACTIVATE, "deactivate");
    }
}
