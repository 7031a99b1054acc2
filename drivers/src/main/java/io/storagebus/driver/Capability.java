package io.storagebus.driver;

/** Optional abilities a driver declares; operations beyond the basic ones are gated by these. */
public enum Capability {
    /** Volumes can be allocated on write. */
    THIN,
    /** Allocated size can grow while in use. */
    EXTENDABLE,
    /** Hosts must refresh to see a grown volume. */
    REFRESH,
    /** Volumes must be activated on a host before use. */
    ACTIVATE,
    SNAPSHOT,
    CLONE_COW,
    /** Visible to every host of a pool at once. */
    SHARED,
    BACKUP_TARGET
}
