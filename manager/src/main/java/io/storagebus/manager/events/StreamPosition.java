package io.storagebus.manager.events;

import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * Where a reader of {@code storagebus.events} stands: for each partition, the offset of the next
 * record it has not seen. Written as an SSE event id ({@code 0-1234.1-98.2-560}), so a client that
 * reconnects with {@code Last-Event-ID} resumes exactly after the last event it got, whichever
 * partitions the events it skipped (by its filters) came from. Immutable.
 */
public final class StreamPosition {
    private static final Pattern FORMAT = Pattern.compile("[0-9]{1,4}-[0-9]{1,19}(\\.[0-9]{1,4}-[0-9]{1,19}){0,1023}");

    private final long[] next;

    private StreamPosition(long[] next) {
        this.next = next;
    }

    public static StreamPosition of(long... next) {
        return new StreamPosition(next.clone());
    }

    /**
     * Reads an SSE id back.
     *
     * @throws IllegalArgumentException when it is not one this stream wrote for {@code partitions} partitions
     */
    public static StreamPosition parse(String id, int partitions) {
        if (id == null || !FORMAT.matcher(id).matches()) {
            throw new IllegalArgumentException("not an event id of this stream: partition-offset pairs joined by '.', e.g. 0-12.1-7.2-0");
        }
        long[] next = new long[partitions];
        boolean[] seen = new boolean[partitions];
        for (String pair : id.split("\\.")) {
            int dash = pair.indexOf('-');
            int partition = Integer.parseInt(pair.substring(0, dash));
            long offset;
            try {
                offset = Long.parseLong(pair.substring(dash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("offset out of range in '" + pair + "'");
            }
            if (partition >= partitions || seen[partition]) {
                throw new IllegalArgumentException("partition " + partition + " is not one of the " + partitions + " of storagebus.events, "
                        + "or is named twice");
            }
            seen[partition] = true;
            next[partition] = offset;
        }
        for (int p = 0; p < partitions; p++) {
            if (!seen[p]) {
                throw new IllegalArgumentException("partition " + p + " of storagebus.events is missing");
            }
        }
        return new StreamPosition(next);
    }

    public int partitions() {
        return next.length;
    }

    /** The offset of the next record of {@code partition} not yet seen. */
    public long next(int partition) {
        return next[partition];
    }

    /** This position after a record of {@code partition} at {@code offset}. */
    public StreamPosition after(int partition, long offset) {
        long[] moved = next.clone();
        moved[partition] = Math.max(moved[partition], offset + 1);
        return new StreamPosition(moved);
    }

    /** The later of the two positions in every partition. */
    public StreamPosition max(StreamPosition other) {
        long[] later = next.clone();
        for (int p = 0; p < later.length; p++) {
            later[p] = Math.max(later[p], other.next[p]);
        }
        return new StreamPosition(later);
    }

    /** Whether a reader here has seen the record of {@code partition} at {@code offset}. */
    public boolean hasSeen(int partition, long offset) {
        return offset < next[partition];
    }

    /** Whether this position is at or past {@code other} in every partition. */
    public boolean covers(StreamPosition other) {
        for (int p = 0; p < next.length; p++) {
            if (next[p] < other.next[p]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        StringBuilder id = new StringBuilder();
        for (int p = 0; p < next.length; p++) {
            id.append(p == 0 ? "" : ".").append(p).append('-').append(next[p]);
        }
        return id.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StreamPosition other && Arrays.equals(next, other.next);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(next);
    }
}
