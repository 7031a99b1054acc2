package io.storagebus.leases;

import java.time.Duration;
import java.time.Instant;

/**
 * A lease taken from a holder that never gave it back (its host died, froze or was cut off): the
 * new holder may not use the volume before {@link #usableAt}. The wait comes from the old
 * holder's own promise, its <em>guard</em>: how long after ZooKeeper last heard its session its
 * guests may still write (its watchdog's deadline, or its worker's fence). The new holder cannot
 * tell when the old session ended, so it counts the guard, plus a margin, from the moment it took
 * the lease, when the old session has surely ended: never from ZooKeeper's session expiry alone.
 *
 * @param previousHostId the holder before, or null when the lease record does not say
 * @param previousEpoch  the epoch of the lease that was not given back
 * @param previousGuard  the old holder's guard, or null when it did not say (the new holder then
 *                       counts its own, the most a holder of this version promises)
 * @param waitTime       the guard (or fallback) plus {@link VolumeLeases#TAKEOVER_MARGIN}
 * @param usableAt       when the volume may be used: the lease taken, plus {@code waitTime}
 */
public record LeaseTakeover(String volumeId, long epoch, String previousHostId, long previousEpoch, Duration previousGuard,
                            Duration waitTime, Instant usableAt) {

    /** Time left to wait at {@code now}; zero once the volume is usable. */
    public Duration remaining(Instant now) {
        Duration left = Duration.between(now, usableAt);
        return left.isNegative() ? Duration.ZERO : left;
    }

    /** For operators: whose lease, why the wait, until when. */
    public String describe() {
        String holder = previousHostId != null ? previousHostId : "its previous holder";
        String guard = previousGuard != null
                ? holder + "'s guests stop writing within " + previousGuard.toMillis() + " ms of its session last being heard"
                : holder + " did not say how soon its guests stop writing, so this host's own bound is assumed";
        return "the lease of volume " + volumeId + " (epoch " + previousEpoch + ") was not given back by " + holder + ": " + guard
                + "; waiting " + waitTime.toMillis() + " ms (with the margin), until " + usableAt + ", before using it under epoch " + epoch;
    }
}
