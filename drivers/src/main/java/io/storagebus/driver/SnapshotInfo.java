package io.storagebus.driver;

/**
 * One point in time of a volume: a read-only layer of its qcow2 chain.
 *
 * @param location the frozen layer's image, e.g. {@code file:///…/vol.qcow2}
 * @param parentSnapshotId the snapshot this layer's data is a difference to, or null for the base:
 *        what an incremental backup of this snapshot must be restored on top of
 */
public record SnapshotInfo(String snapshotId, String name, String location, String parentSnapshotId, long createdAt,
                           SnapshotStatus status) {
}
