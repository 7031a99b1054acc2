package io.storagebus.manager.state;

import java.util.UUID;

/**
 * Ids as the state view keeps them by the hundred thousand: a UUID in its canonical text costs
 * 80 bytes of heap as a String and 32 as a {@link UUID}. Anything else stays the String it was,
 * so every id comes back exactly as it was given.
 */
final class CompactIds {
    private CompactIds() {
    }

    /** A {@link UUID} if {@code id} is one in canonical (lower-case) text, else {@code id} itself; null stays null. */
    static Object compact(String id) {
        if (id == null || id.length() != 36) {
            return id;
        }
        try {
            UUID uuid = UUID.fromString(id);
            return uuid.toString().equals(id) ? uuid : id;
        } catch (IllegalArgumentException e) {
            return id;
        }
    }

    /** The id {@link #compact} was given. */
    static String expand(Object compact) {
        return compact == null ? null : compact.toString();
    }

    /** A total order of compact ids: UUIDs first, among themselves by value, then Strings. */
    static int compare(Object a, Object b) {
        if (a instanceof UUID x) {
            return b instanceof UUID y ? x.compareTo(y) : -1;
        }
        return b instanceof UUID ? 1 : ((String) a).compareTo((String) b);
    }
}
