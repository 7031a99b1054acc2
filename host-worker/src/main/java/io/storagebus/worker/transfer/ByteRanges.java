package io.storagebus.worker.transfer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The byte ranges of an image that have arrived, merged: an upload's chunks come in any order,
 * a chunk sent again after a broken connection overlaps what came before, and a client resuming
 * asks what is still missing. Thread-safe.
 */
public final class ByteRanges {
    /** start -> end (exclusive), no two touching or overlapping. */
    private final TreeMap<Long, Long> ranges = new TreeMap<>();
    private long covered;

    /** Records {@code [start, end)}; an empty range changes nothing. */
    public synchronized void add(long start, long end) {
        if (start < 0 || end < start) {
            throw new IllegalArgumentException("invalid range [" + start + ", " + end + ")");
        }
        if (start == end) {
            return;
        }
        Map.Entry<Long, Long> before = ranges.floorEntry(start);
        if (before != null && before.getValue() >= start) {
            start = before.getKey();
            end = Math.max(end, before.getValue());
        }
        for (Map.Entry<Long, Long> next = ranges.ceilingEntry(start); next != null && next.getKey() <= end; next = ranges.ceilingEntry(start)) {
            end = Math.max(end, next.getValue());
            covered -= next.getValue() - next.getKey();
            ranges.remove(next.getKey());
        }
        ranges.put(start, end);
        covered += end - start;
    }

    /** Bytes covered by at least one range. */
    public synchronized long covered() {
        return covered;
    }

    /** The merged ranges, in order, each as {@code [start, end)}. */
    public synchronized List<long[]> list() {
        List<long[]> out = new ArrayList<>(ranges.size());
        ranges.forEach((s, e) -> out.add(new long[] {s, e}));
        return out;
    }
}
