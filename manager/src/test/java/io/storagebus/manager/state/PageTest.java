package io.storagebus.manager.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

import org.junit.jupiter.api.Test;

class PageTest {
    private static ConcurrentSkipListMap<String, String> items(String... ids) {
        ConcurrentSkipListMap<String, String> sorted = new ConcurrentSkipListMap<>();
        Instant t = Instant.parse("2026-12-01T00:00:00Z");
        for (int i = 0; i < ids.length; i++) {
            sorted.put(Page.oldestFirst(t.plusNanos(i), ids[i]), ids[i]);
        }
        return sorted;
    }

    @Test
    void pagesFollowOneAnotherAndTheLastHasNoNext() {
        ConcurrentSkipListMap<String, String> sorted = items("a", "b", "c");
        Page<String> first = Page.of(sorted, null, 2, s -> true);
        assertEquals(List.of("a", "b"), first.items());
        Page<String> second = Page.of(sorted, first.next(), 2, s -> true);
        assertEquals(List.of("c"), second.items());
        assertNull(second.next());
        assertNull(Page.of(sorted, null, 3, s -> true).next(), "a full last page says there is no more");
    }

    @Test
    void anItemRemovedBetweenPagesShiftsNothingAfterIt() {
        ConcurrentSkipListMap<String, String> sorted = items("a", "b", "c", "d");
        Page<String> first = Page.of(sorted, null, 2, s -> true);
        sorted.remove(sorted.firstKey());
        assertEquals(List.of("c", "d"), Page.of(sorted, first.next(), 2, s -> true).items());
    }

    @Test
    void aFilterSkipsWithoutShorteningPagesAndNewestFirstIsReversed() {
        ConcurrentSkipListMap<String, String> sorted = items("a", "bb", "c", "dd", "e");
        assertEquals(List.of("a", "c"), Page.of(sorted, null, 2, s -> s.length() == 1).items());
        Instant t = Instant.now();
        assertEquals(-1, Page.newestFirst(t.plusSeconds(1), "x").compareTo(Page.newestFirst(t, "x")));
    }

    @Test
    void sortKeysAreTwentyDigitsOfNanosThenTheIdAndReadBack() {
        Instant t = Instant.parse("2026-12-01T00:00:00.000000123Z");
        assertEquals("01796083200000000123/v", Page.oldestFirst(t, "v"));
        assertEquals("00000000000000000000/v", Page.oldestFirst(Instant.EPOCH, "v"));
        String newest = Page.newestFirst(t, "v");
        assertEquals(String.format("%020d/v", Long.MAX_VALUE - 1_796_083_200_000_000_123L), newest);
        assertEquals(Map.entry(t, "v"), Page.ofNewestFirst(newest));
    }

    @Test
    void aCursorFromElsewhereIsRefused() {
        assertThrows(Page.BadCursorException.class, () -> Page.of(items("a"), "bm90LWEtY3Vyc29y", 2, s -> true));
        assertThrows(Page.BadCursorException.class, () -> Page.of(items("a"), "%%%", 2, s -> true));
    }

    @Test
    void aListByIdPagesByIdAndRefusesATimedCursor() {
        ConcurrentSkipListMap<String, String> byId = new ConcurrentSkipListMap<>();
        for (String id : List.of("host-c", "host-a", "host-b.example")) {
            byId.put(id, id);
        }
        Page<String> first = Page.ofIds(byId, null, 2);
        assertEquals(List.of("host-a", "host-b.example"), first.items());
        assertEquals(List.of("host-c"), Page.ofIds(byId, first.next(), 2).items());
        assertNull(Page.ofIds(byId, first.next(), 2).next());
        String timed = Page.of(items("a", "b"), null, 1, s -> true).next();
        assertThrows(Page.BadCursorException.class, () -> Page.ofIds(byId, timed, 2));
        assertThrows(Page.BadCursorException.class, () -> Page.of(items("a"), first.next(), 2, s -> true));
    }
}
