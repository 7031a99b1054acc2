package io.storagebus.manager.state;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A state table's rows in one order, in groups (all rows in one group, or say a volume's
 * backups in each), kept as rows come and go: a page, or a group's rows, costs the size of what
 * it answers, not of the table. Told of each change as (before, after), either null.
 */
final class SortedIndex<T> implements BiConsumer<T, T> {
    private static final String ALL = "";

    private final Function<T, String> group;
    private final Function<T, String> sortKey;
    private final Map<String, ConcurrentSkipListMap<String, T>> groups = new ConcurrentHashMap<>();

    private SortedIndex(Function<T, String> group, Function<T, String> sortKey) {
        this.group = group;
        this.sortKey = sortKey;
    }

    /** Every row, in the order of {@code sortKey} (a {@link Page} key). */
    static <T> SortedIndex<T> of(Function<T, String> sortKey) {
        return new SortedIndex<>(row -> ALL, sortKey);
    }

    /** The rows of each {@code group}, each group in the order of {@code sortKey}. */
    static <T> SortedIndex<T> grouped(Function<T, String> group, Function<T, String> sortKey) {
        return new SortedIndex<>(group, sortKey);
    }

    /** The new row goes in before the old one comes out, so a reader never misses it. */
    @Override
    public synchronized void accept(T before, T after) {
        if (after != null) {
            groups.computeIfAbsent(group.apply(after), g -> new ConcurrentSkipListMap<>()).put(sortKey.apply(after), after);
        }
        if (before != null && (after == null || !group.apply(after).equals(group.apply(before))
                || !sortKey.apply(after).equals(sortKey.apply(before)))) {
            String g = group.apply(before);
            ConcurrentSkipListMap<String, T> rows = groups.get(g);
            if (rows != null) {
                rows.remove(sortKey.apply(before));
                if (rows.isEmpty()) {
                    groups.remove(g, rows);
                }
            }
        }
    }

    /** A page of every row (of an ungrouped index), of those {@code wanted} keeps. */
    Page<T> page(String cursor, int limit, Predicate<T> wanted) {
        return page(ALL, cursor, limit, wanted);
    }

    /** A page of the group's rows, of those {@code wanted} keeps. */
    Page<T> page(String group, String cursor, int limit, Predicate<T> wanted) {
        return Page.of(rows(group), cursor, limit, wanted);
    }

    /** The group's rows, in order. */
    List<T> list(String group) {
        return List.copyOf(rows(group).values());
    }

    int count(String group) {
        return rows(group).size();
    }

    private ConcurrentSkipListMap<String, T> rows(String group) {
        return groups.getOrDefault(group, new ConcurrentSkipListMap<>());
    }
}
