package io.storagebus.manager.state;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * One page of a list: at most {@code limit} items in the list's order, and the cursor of the next
 * page (null on the last). A cursor is opaque to clients; it is the sort key of the page's last
 * item, so a page costs the same however long the list, and items added or removed meanwhile do
 * not shift the pages after them.
 */
public record Page<T>(List<T> items, String next) {
    /** Largest page a client may ask for; also the default. */
    public static final int MAX_LIMIT = 1000;

    /** A cursor's key in a list by time (a time, then an id) and in a list by id (a marker, then the id). */
    private static final Pattern TIMED = Pattern.compile("\\d{20}/[A-Za-z0-9-]{1,64}");
    private static final String ID = "id:";
    private static final Pattern BY_ID = Pattern.compile(ID + "[A-Za-z0-9._:-]{1,128}");

    /** A cursor that is not one this manager gave. */
    public static final class BadCursorException extends IllegalArgumentException {
        BadCursorException(String message) {
            super(message);
        }
    }

    /** The page of {@code sorted} (by {@link #oldestFirst} or {@link #newestFirst} keys) after {@code cursor} (null: from the start), of the items {@code wanted} keeps. */
    static <T> Page<T> of(NavigableMap<String, T> sorted, String cursor, int limit, Predicate<T> wanted) {
        return page(sorted, cursor == null ? null : decode(cursor, TIMED), limit, wanted, key -> key);
    }

    /** The page of {@code byId} (keyed and sorted by id) after {@code cursor} (null: from the start). */
    public static <T> Page<T> ofIds(NavigableMap<String, T> byId, String cursor, int limit) {
        return page(byId, cursor == null ? null : decode(cursor, BY_ID).substring(ID.length()), limit, item -> true, id -> ID + id);
    }

    private static <T> Page<T> page(NavigableMap<String, T> sorted, String after, int limit, Predicate<T> wanted,
            UnaryOperator<String> cursorKey) {
        NavigableMap<String, T> rest = after == null ? sorted : sorted.tailMap(after, false);
        List<T> items = new ArrayList<>(Math.min(limit, 64));
        String last = null;
        for (Map.Entry<String, T> e : rest.entrySet()) {
            if (!wanted.test(e.getValue())) {
                continue;
            }
            if (items.size() == limit) {
                return new Page<>(items, encode(cursorKey.apply(last)));
            }
            items.add(e.getValue());
            last = e.getKey();
        }
        return new Page<>(items, null);
    }

    /** A sort key of items ordered by time, oldest first, then by id. */
    static String oldestFirst(Instant at, String id) {
        return String.format("%020d/%s", at.getEpochSecond() * 1_000_000_000L + at.getNano(), id);
    }

    /** A sort key of items ordered by time, newest first, then by id. */
    static String newestFirst(Instant at, String id) {
        return String.format("%020d/%s", Long.MAX_VALUE - (at.getEpochSecond() * 1_000_000_000L + at.getNano()), id);
    }

    private static String encode(String key) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(key.getBytes(StandardCharsets.UTF_8));
    }

    private static String decode(String cursor, Pattern form) {
        try {
            String key = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
            if (!form.matcher(key).matches()) {
                throw new BadCursorException("not a cursor of this list: " + cursor);
            }
            return key;
        } catch (IllegalArgumentException e) {
            throw e instanceof BadCursorException b ? b : new BadCursorException("not a cursor of this list: " + cursor);
        }
    }
}
