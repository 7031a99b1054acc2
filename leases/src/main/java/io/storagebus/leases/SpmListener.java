package io.storagebus.leases;

/**
 * Told when this host's SPM terms start and end. Calls come one at a time, in order, from the
 * election's own thread; {@link #termEnded} must make the host stop writing pool metadata at once.
 */
public interface SpmListener {

    void termStarted(SpmTerm term);

    /** The term is over: leadership lost, the ZooKeeper connection suspended or lost, or closed. */
    void termEnded(SpmTerm term);
}
