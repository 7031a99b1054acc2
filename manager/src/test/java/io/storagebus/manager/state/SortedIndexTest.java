package io.storagebus.manager.state;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;

import org.junit.jupiter.api.Test;

class SortedIndexTest {
    private record Row(String id, String group, Instant at) {
    }

    private static final Instant T = Instant.parse("2026-12-01T00:00:00Z");

    private static SortedIndex<Row> byGroup() {
        return SortedIndex.grouped(Row::group, r -> Page.oldestFirst(r.at(), r.id()));
    }

    @Test
    void eachGroupIsInOrderAndAPageReadsOnlyItsGroup() {
        SortedIndex<Row> index = byGroup();
        index.accept(null, new Row("b", "g1", T.plusSeconds(2)));
        index.accept(null, new Row("a", "g1", T.plusSeconds(1)));
        index.accept(null, new Row("c", "g2", T));
        assertEquals(List.of("a", "b"), index.list("g1").stream().map(Row::id).toList());
        assertEquals(List.of("c"), index.page("g2", null, 10, r -> true).items().stream().map(Row::id).toList());
        assertEquals(0, index.count("g3"));
    }

    @Test
    void aRowThatMovesOrGoesLeavesNoTrace() {
        SortedIndex<Row> index = byGroup();
        Row first = new Row("a", "g1", T);
        index.accept(null, first);
        Row moved = new Row("a", "g2", T);
        index.accept(first, moved);
        assertEquals(0, index.count("g1"));
        assertEquals(List.of(moved), index.list("g2"));
        Row updated = new Row("a", "g2", T);
        index.accept(moved, updated);
        assertEquals(List.of(updated), index.list("g2"), "an update in place replaces the row");
        index.accept(updated, null);
        assertEquals(0, index.count("g2"));
    }

    @Test
    void anUngroupedIndexPagesEveryRow() {
        SortedIndex<Row> index = SortedIndex.of(r -> Page.newestFirst(r.at(), r.id()));
        index.accept(null, new Row("old", "x", T));
        index.accept(null, new Row("new", "y", T.plusSeconds(1)));
        Page<Row> page = index.page(null, 1, r -> true);
        assertEquals("new", page.items().get(0).id());
        assertEquals("old", index.page(page.next(), 1, r -> true).items().get(0).id());
    }
}
