package io.storagebus.worker.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;

import org.junit.jupiter.api.Test;

class ByteRangesTest {
    @Test
    void chunksInAnyOrderMergeAndOverlapsCountOnce() {
        ByteRanges ranges = new ByteRanges();
        ranges.add(20, 30);
        ranges.add(0, 10);
        assertEquals(20, ranges.covered());
        ranges.add(5, 25); // a chunk sent again over both
        assertEquals(30, ranges.covered());
        assertEquals(1, ranges.list().size());
        ranges.add(30, 40); // touching: one range
        ranges.add(50, 60);
        List<long[]> list = ranges.list();
        assertEquals(2, list.size());
        assertArrayEquals(new long[] {0, 40}, list.get(0));
        assertArrayEquals(new long[] {50, 60}, list.get(1));
        assertEquals(50, ranges.covered());
    }

    @Test
    void aRangeInsideAnotherChangesNothingAndEmptyRangesAreNothing() {
        ByteRanges ranges = new ByteRanges();
        ranges.add(0, 100);
        ranges.add(10, 20);
        ranges.add(7, 7);
        assertEquals(100, ranges.covered());
        assertEquals(1, ranges.list().size());
    }

    @Test
    void aRangeSpanningManyMergesThemAll() {
        ByteRanges ranges = new ByteRanges();
        for (long i = 0; i < 10; i++) {
            ranges.add(i * 10, i * 10 + 5);
        }
        assertEquals(50, ranges.covered());
        ranges.add(3, 93);
        assertEquals(1, ranges.list().size());
        assertArrayEquals(new long[] {0, 95}, ranges.list().get(0));
        assertEquals(95, ranges.covered());
    }

    @Test
    void backwardRangesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new ByteRanges().add(10, 5));
        assertThrows(IllegalArgumentException.class, () -> new ByteRanges().add(-1, 5));
    }
}
