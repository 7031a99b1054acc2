package io.storagebus.driver;

/** Where a snapshot is in its life: its legality in the volume's chain. */
public enum SnapshotStatus {
    /** The new top layer exists, but a running guest may still write the layer below it until its host switches over. */
    PENDING,
    /** A point in time: its layer is read-only and complete. */
    READY,
    /** Being merged into the layer above it; gone once the merge finishes. */
    MERGING
}
