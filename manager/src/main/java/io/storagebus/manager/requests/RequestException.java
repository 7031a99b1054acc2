package io.storagebus.manager.requests;

import java.util.List;

/**
 * Why a request was refused, in the terms of the request itself: each case has a stable code a
 * client can branch on and a message a person understands. The REST API maps these to HTTP once
 * ({@code ApiError.of}); the backup schedule and the maintenance code see them as they are.
 */
public abstract sealed class RequestException extends RuntimeException {
    private final String code;
    private final String field;

    private RequestException(String code, String message, String field) {
        super(message, null, false, false);
        this.code = code;
        this.field = field;
    }

    /** The stable code, e.g. {@code VOLUME_NOT_FOUND}. */
    public String code() {
        return code;
    }

    /** The request field at fault, or null when the request as a whole is. */
    public String field() {
        return field;
    }

    /** What the request names does not exist. */
    public static final class NotFound extends RequestException {
        public NotFound(String code, String message) {
            super(code, message, null);
        }
    }

    /** The request is well formed but the state it would act on does not allow it now. */
    public static final class Conflict extends RequestException {
        public Conflict(String code, String message, String field) {
            super(code, message, field);
        }
    }

    /** One thing wrong with one field. */
    public record Problem(String field, String code, String message) {
    }

    /** A field of the request is wrong whatever the state; or several, each a {@link Problem}. */
    public static final class Invalid extends RequestException {
        private final List<Problem> problems;

        public Invalid(String field, String code, String message) {
            this(code, message, field, List.of(new Problem(field, code, message)));
        }

        /** Several fields at once: {@code code} names the whole, the first problem's field is the field. */
        public Invalid(String code, List<Problem> problems) {
            this(code, problems.size() == 1 ? problems.get(0).message() : problems.size() + " " + plural(problems) + " are invalid",
                    problems.get(0).field(), problems);
        }

        private Invalid(String code, String message, String field, List<Problem> problems) {
            super(code, message, field);
            this.problems = List.copyOf(problems);
        }

        private static String plural(List<Problem> problems) {
            return problems.get(0).field().startsWith("properties.") ? "properties" : "fields";
        }

        public List<Problem> problems() {
            return problems;
        }
    }

    /** Something the request depends on cannot answer now; the same request may succeed later. */
    public static final class Unavailable extends RequestException {
        private final boolean timedOut;

        public Unavailable(String code, String message, String field, boolean timedOut) {
            super(code, message, field);
            this.timedOut = timedOut;
        }

        /** It was asked and did not answer in time (rather than: there was no one to ask). */
        public boolean timedOut() {
            return timedOut;
        }
    }

    /**
     * A write reached a standby manager. {@code activeUrl} is where the active manager serves the
     * API, or null while none leads (an election is under way).
     */
    public static final class NotActive extends RequestException {
        private final String activeManagerId;
        private final String activeUrl;

        public NotActive(String message, String activeManagerId, String activeUrl) {
            super(activeUrl == null ? "NO_ACTIVE_MANAGER" : "NOT_ACTIVE_MANAGER", message, null);
            this.activeManagerId = activeManagerId;
            this.activeUrl = activeUrl;
        }

        public String activeManagerId() {
            return activeManagerId;
        }

        public String activeUrl() {
            return activeUrl;
        }
    }
}
