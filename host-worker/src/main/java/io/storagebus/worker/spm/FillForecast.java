package io.storagebus.worker.spm;

import java.time.Duration;
import java.util.OptionalLong;

/**
 * How fast one domain's thin volumes ask for space, and so when the domain will be full. The
 * rate is an exponentially decaying sum of the bytes extends asked for (granted or not: demand,
 * not supply), with a time constant of {@link #TAU}: a steady demand of B bytes a second reads
 * as B, a burst fades over minutes instead of dropping out of a window at once. Thread-safe.
 */
final class FillForecast {
    /** Long enough that one extend does not make a forecast, short enough to follow a boot storm. */
    static final Duration TAU = Duration.ofMinutes(10);
    private static final double TAU_SECONDS = TAU.toSeconds();

    private double bytesPerSecond;
    private long updatedNanos;
    private boolean started;

    /** An extend at {@code nanos} asked for {@code bytes} more. */
    synchronized void demanded(long bytes, long nanos) {
        bytesPerSecond = rateAt(nanos) + bytes / TAU_SECONDS;
        updatedNanos = nanos;
        started = true;
    }

    synchronized double rateAt(long nanos) {
        if (!started) {
            return 0;
        }
        return bytesPerSecond * Math.exp(-(nanos - updatedNanos) / 1e9 / TAU_SECONDS);
    }

    /** Seconds until {@code freeBytes} are gone at the current rate; empty while nothing has been asked for. */
    OptionalLong secondsToFull(long freeBytes, long nanos) {
        double rate = rateAt(nanos);
        if (rate <= 0) {
            return OptionalLong.empty();
        }
        return OptionalLong.of((long) Math.min(Long.MAX_VALUE / 2, freeBytes / rate));
    }
}
