package io.storagebus.leases;

/** Where SPM election state of a pool lives in ZooKeeper. */
final class SpmPaths {
    static final String ROOT = "/storagebus/pools";

    private SpmPaths() {
    }

    static String latch(String pool) {
        return ROOT + "/" + pool + "/spm/latch";
    }

    /** Persistent; holds the epoch of the latest term, bumped by compare-and-set. */
    static String epoch(String pool) {
        return ROOT + "/" + pool + "/spm/epoch";
    }

    /** Holds the epoch whose holder is asked to hand the role over (clean release). */
    static String release(String pool) {
        return ROOT + "/" + pool + "/spm/release";
    }

    /** Ephemeral; the current holder's {@link SpmTerm}, gone with its session. */
    static String holder(String pool) {
        return ROOT + "/" + pool + "/spm/holder";
    }
}
