package io.storagebus.driver;

/**
 * How a snapshot's layer leaves the chain: its data is streamed into the layer above it
 * ({@code child}), which then backs onto the layer below it ({@code base}, null when the
 * snapshot is the base and the child becomes standalone). Offline, {@code qemu-img rebase} does
 * it; with a guest running, QMP {@code block-stream} on the child's node.
 */
public record MergePlan(String snapshotId, String layer, String child, String base) {
}
