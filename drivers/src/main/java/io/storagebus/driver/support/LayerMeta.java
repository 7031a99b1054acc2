package io.storagebus.driver.support;

import io.storagebus.driver.SnapshotStatus;

/** A snapshot in a volume's metadata: the read-only layer that holds its point in time. */
public record LayerMeta(String snapshotId, String name, String dataFile, long createdAt, SnapshotStatus status) {

    public LayerMeta withStatus(SnapshotStatus newStatus) {
        return new LayerMeta(snapshotId, name, dataFile, createdAt, newStatus);
    }
}
