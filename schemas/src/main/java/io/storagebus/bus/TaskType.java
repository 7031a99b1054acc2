package io.storagebus.bus;

import java.util.Optional;

/**
 * What a task does: {@code TaskState.type} on the wire, where it stays a string so that a reader
 * of an older release still reads a task of a type added since ({@link #of} says it does not know it).
 */
public enum TaskType {
    CREATE_VOLUME,
    CLONE_VOLUME,
    COPY_VOLUME,
    MOVE_VOLUME,
    DELETE_VOLUME,
    PREPARE_VOLUME,
    TEARDOWN_VOLUME,
    RESIZE_VOLUME,
    UNTRASH_VOLUME,
    SNAPSHOT_VOLUME,
    DELETE_SNAPSHOT,
    BACKUP_VOLUME,
    RESTORE_BACKUP,
    DELETE_BACKUP,
    TRANSFER_IMAGE;

    /** The type a task record names, if this release knows it. */
    public static Optional<TaskType> of(String wire) {
        for (TaskType t : values()) {
            if (t.name().equals(wire)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
