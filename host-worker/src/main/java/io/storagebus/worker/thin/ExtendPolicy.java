package io.storagebus.worker.thin;

import io.storagebus.driver.Sizes;

/**
 * When a thin volume is extended and by how much. A host reports when the free space left in the
 * allocation drops under the <em>headroom</em>; the SPM then grows the allocation by a
 * <em>chunk</em>. The reference is oVirt's: a 2560 MiB chunk, reported when less than 20 % of a
 * chunk is left. A guest that writes fast gets a bigger chunk, so that one chunk lasts at least
 * {@code chunkSeconds} at its observed rate, and is reported earlier, with the same share of
 * that chunk left, which is what the extend round trip has to fit in. Never beyond the most the
 * volume can need: the drivers clamp to the virtual size plus qcow2 metadata.
 *
 * @param chunk        smallest extension, in bytes
 * @param freePercent  share of the chunk that, when no more is left free, triggers the report
 * @param chunkSeconds how many seconds of writes at the observed rate a chunk must hold
 */
public record ExtendPolicy(long chunk, int freePercent, int chunkSeconds) {
    public static final ExtendPolicy OVIRT = new ExtendPolicy(2560 * Sizes.MIB, 20, 5);

    public ExtendPolicy {
        if (chunk <= 0) {
            throw new IllegalArgumentException("extend chunk must be positive, not " + chunk);
        }
        if (freePercent < 0 || freePercent > 100) {
            throw new IllegalArgumentException("free percent must be within 0..100, not " + freePercent);
        }
        if (chunkSeconds < 0) {
            throw new IllegalArgumentException("chunk seconds must not be negative, not " + chunkSeconds);
        }
    }

    /** Bytes to add for a guest writing {@code writeRate} bytes per second. */
    public long chunkFor(long writeRate) {
        long forRate = writeRate > 0 && chunkSeconds > 0 ? saturatedMultiply(writeRate, chunkSeconds) : 0;
        return Math.max(chunk, forRate);
    }

    /** Free bytes under which the host reports the volume. */
    public long headroom(long writeRate) {
        long chunk = chunkFor(writeRate);
        return chunk / 100 * freePercent + chunk % 100 * freePercent / 100;
    }

    /** The write offset at which QEMU should tell the host: where only the headroom is left. */
    public long threshold(long allocation, long writeRate) {
        return Math.max(0, allocation - headroom(writeRate));
    }

    /** Whether a volume written up to {@code highestOffset} needs a bigger allocation now. */
    public boolean needsExtend(long allocation, long highestOffset, long writeRate) {
        return allocation - highestOffset <= headroom(writeRate);
    }

    /**
     * The allocation to extend to: a chunk more, and at least the headroom past what is written,
     * so the next report is not due at once. Drivers clamp it to the volume's ceiling.
     */
    public long target(long allocation, long highestOffset, long writeRate) {
        long grown = allocation + chunkFor(writeRate);
        long clear = highestOffset + headroom(writeRate) + chunkFor(writeRate) / 2;
        return Math.max(grown, clear);
    }

    private static long saturatedMultiply(long a, long b) {
        long r = a * b;
        return (a != 0 && r / a != b) ? Long.MAX_VALUE : r;
    }
}
