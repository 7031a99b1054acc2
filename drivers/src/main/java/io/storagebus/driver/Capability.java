package io.storagebus.driver;

/** Optional abilities a driver declares; operations beyond the seven basic ones are gated by these. */
public enum Capability {
    /** Volumes can be allocated on write. */
    THIN,
    /** {@link StorageDriver#extend}: allocated size can grow, also while in use. */
    EXTENDABLE,
    /** {@link StorageDriver#resize}: a volume's virtual size (what its guest sees) can grow. */
    RESIZE,
    /** {@link StorageDriver#refresh}: hosts must refresh to see a grown volume. */
    REFRESH,
    /** {@link StorageDriver#activate}/{@link StorageDriver#deactivate}: a volume must be prepared on a host before use. */
    ACTIVATE,
    /**
     * Snapshots as qcow2 chains ({@link StorageDriver#snapshot}, merges, export of a snapshot
     * whole or as the difference to its parent).
     */
    SNAPSHOT,
    /** {@link StorageDriver#clone} makes a copy-on-write overlay instead of a full copy. */
    CLONE_COW,
    /** Visible to every host of a pool at once. */
    SHARED,
    /** Fit to hold copies of volumes from other domains (backups), with their manifests ({@link StorageDriver#putManifest}). */
    BACKUP_TARGET
}
