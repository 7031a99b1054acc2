package io.storagebus.manager.api;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.json.jackson.JacksonCodec;
import io.vertx.ext.web.RoutingContext;

/** Typed, validated access to a JSON request body; every problem is an {@link ApiError} naming the field. */
final class RequestBody {
    /** Names of domains and volumes: they may end up in paths and LV names, so nothing that can escape. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    private static final JsonFactory STRICT = JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
    /** Where {@link #wellFormed} leaves the parsed body for the route, so it is parsed once. */
    private static final String PARSED = "storagebus.parsedBody";

    private final JsonObject json;
    /** Where this body is in the request's: "" for the whole body, "drain." for a nested object. */
    private final String path;

    private RequestBody(JsonObject json, String path) {
        this.json = json;
        this.path = path;
    }

    /**
     * Every request with a body, whatever its route does with it: JSON by its Content-Type, in
     * UTF-8, without comments or a byte-order mark, naming no field twice. A route that takes no
     * body still refuses a malformed one.
     */
    static void wellFormed(RoutingContext ctx) {
        if (ctx.body() != null && ctx.body().length() > 0) {
            requireJsonContentType(ctx);
            ctx.put(PARSED, parseStrictly(ctx.body().asString()));
        }
        ctx.next();
    }

    static RequestBody of(RoutingContext ctx, Set<String> allowedFields) {
        Object parsed = ctx.get(PARSED); // every route with a body is under /api/, where wellFormed parsed it
        if (parsed == null) {
            throw new ApiError(400, "INVALID_JSON", "request body must be a JSON object", null, java.util.List.of());
        }
        JsonObject json;
        if (parsed instanceof JsonObject o) {
            json = o;
        } else if (parsed instanceof Map<?, ?> m) {
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = (Map<String, Object>) m;
            json = new JsonObject(fields);
        } else {
            throw new ApiError(400, "INVALID_JSON", "request body must be a JSON object, not an array or a single value", null, java.util.List.of());
        }
        return checked(json, "", allowedFields);
    }

    private static RequestBody checked(JsonObject json, String path, Set<String> allowedFields) {
        for (String field : json.fieldNames()) {
            if (!allowedFields.contains(field)) {
                throw ApiError.badField(path + field, "UNKNOWN_FIELD", "unknown field '" + path + field + "'; allowed: " + allowedFields);
            }
        }
        return new RequestBody(json, path);
    }

    /** A nested object, checked as a body is; its fields are named {@code field.name} in errors. */
    RequestBody object(String field, Set<String> allowedFields) {
        Object value = json.getValue(field);
        if (value instanceof Map<?, ?> m) {
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = (Map<String, Object>) m;
            value = new JsonObject(fields);
        }
        if (!(value instanceof JsonObject nested)) {
            throw ApiError.badField(path + field, "INVALID_TYPE", path + field + " must be an object");
        }
        return checked(nested, path + field + ".", allowedFields);
    }

    /**
     * A body is JSON only when it says so: a form, text or XML body is not parsed as JSON by
     * guesswork (it would pass checks a proxy or a WAF made for its declared type). UTF-8 only.
     */
    private static void requireJsonContentType(RoutingContext ctx) {
        String type = ctx.request().getHeader("Content-Type");
        String[] parts = type == null ? new String[] {""} : type.split(";");
        boolean json = parts[0].strip().equalsIgnoreCase("application/json");
        boolean utf8 = parts.length < 2 || parts[1].strip().replace(" ", "").equalsIgnoreCase("charset=utf-8");
        if (!json || !utf8) {
            throw new ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "the body must be sent as 'Content-Type: application/json' (UTF-8), got "
                    + (type == null ? "none" : "'" + type + "'"), null, java.util.List.of());
        }
    }

    String name(String field) {
        String value = requiredString(field);
        if (value.contains("/") || value.contains("..") || !NAME.matcher(value).matches()) {
            throw ApiError.badField(field, "INVALID_NAME", field + " '" + value
                    + "' is not allowed: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..' or '/'");
        }
        return value;
    }

    String requiredString(String field) {
        Object value = json.getValue(field);
        if (value == null) {
            throw ApiError.badField(path + field, "REQUIRED", path + field + " is required");
        }
        if (!(value instanceof String s)) {
            throw ApiError.badField(path + field, "INVALID_TYPE", path + field + " must be a string");
        }
        int control = s.codePoints().filter(c -> Character.getType(c) == Character.CONTROL && c != '\n' && c != '\t').findFirst().orElse(-1);
        if (control >= 0) {
            // Text is stored and shown as given (and logged escaped), but a NUL or an escape sequence means nothing in it.
            throw ApiError.badField(path + field, "INVALID_VALUE", String.format("%s must not hold control characters other than line breaks "
                    + "and tabs, got U+%04X", path + field, control));
        }
        return s;
    }

    String optionalString(String field, String defaultValue) {
        return json.getValue(field) == null ? defaultValue : requiredString(field);
    }

    boolean has(String field) {
        return json.getValue(field) != null;
    }

    long requiredLong(String field) {
        Object value = json.getValue(field);
        if (value == null) {
            throw ApiError.badField(field, "REQUIRED", field + " is required");
        }
        BigDecimal exact = wholeNumber(field, value);
        try {
            return exact.longValueExact();
        } catch (ArithmeticException e) {
            throw ApiError.badField(field, "OUT_OF_RANGE", field + " must be within " + Long.MIN_VALUE + ".." + Long.MAX_VALUE
                    + ", got " + exact.toPlainString());
        }
    }

    /** A whole number of at least {@code min}, or {@code defaultValue} if absent. */
    long optionalLong(String field, long defaultValue, long min) {
        if (json.getValue(field) == null) {
            return defaultValue;
        }
        long value = requiredLong(field);
        if (value < min) {
            throw ApiError.badField(field, "OUT_OF_RANGE", field + " must be at least " + min + ", got " + value);
        }
        return value;
    }

    /** A whole number within {@code min..max}, or {@code defaultValue} if absent. */
    int optionalInt(String field, int defaultValue, int min, int max) {
        Object value = json.getValue(field);
        if (value == null) {
            return defaultValue;
        }
        BigDecimal exact = wholeNumber(field, value);
        if (exact.compareTo(BigDecimal.valueOf(min)) < 0 || exact.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw ApiError.badField(field, "OUT_OF_RANGE", field + " must be within " + min + ".." + max + ", got " + exact.toPlainString());
        }
        return exact.intValueExact();
    }

    /**
     * The number exactly as sent: JSON numbers beyond 64 bits arrive as big numbers, which
     * {@code longValue()} would silently wrap (2^64 + 512 became a 512-byte volume).
     */
    private static BigDecimal wholeNumber(String field, Object value) {
        if (!(value instanceof Number n)) {
            throw ApiError.badField(field, "INVALID_TYPE", field + " must be a whole number");
        }
        if ((value instanceof Double || value instanceof Float) && !(Math.abs(n.doubleValue()) < 0x1p53)) {
            // Written with a fraction or an exponent and too large for a double to hold exactly.
            throw ApiError.badField(field, "INVALID_TYPE", field + " must be written as a whole number, without a fraction or an exponent");
        }
        BigDecimal exact = value instanceof BigDecimal d ? d : value instanceof BigInteger i ? new BigDecimal(i) : new BigDecimal(n.toString());
        if (exact.signum() != 0 && exact.stripTrailingZeros().scale() > 0) {
            throw ApiError.badField(field, "INVALID_TYPE", field + " must be a whole number, got " + exact.toPlainString());
        }
        return exact;
    }

    /**
     * Parses the body once, refusing one that names a field twice (parsers keep the last, so
     * {@code {"virtualSize":-5,"virtualSize":1048576}} would pass a check a proxy made on the
     * first), and anything strict JSON is not: comments, a byte-order mark, another encoding,
     * trailing tokens. The value (a map for an object) is kept for {@link #of}.
     */
    private static Object parseStrictly(String body) {
        try {
            Object value = JacksonCodec.fromParser(STRICT.createParser(body), Object.class);
            if (value == null) {
                throw new ApiError(400, "INVALID_JSON", "request body must be a JSON object, not null", null, java.util.List.of());
            }
            return value;
        } catch (DecodeException e) {
            String reason = e.getCause() instanceof JsonParseException p ? p.getOriginalMessage() : rootMessage(e);
            throw new ApiError(400, "INVALID_JSON", "request body is not valid JSON: " + reason, null, java.util.List.of());
        } catch (java.io.IOException e) {
            throw new ApiError(400, "INVALID_JSON", "request body cannot be read: " + e.getMessage(), null, java.util.List.of());
        }
    }

    /** An ISO-8601 duration ({@code PT1H}, {@code P7D}) within {@code min..max}, or null if absent. */
    Duration optionalDuration(String field, Duration min, Duration max) {
        String value = optionalString(field, null);
        if (value == null) {
            return null;
        }
        Duration d;
        try {
            d = Duration.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiError.badField(field, "INVALID_DURATION", field + " must be an ISO-8601 duration such as PT15M, PT6H or P7D, got '" + value + "'");
        }
        if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
            throw ApiError.badField(field, "OUT_OF_RANGE", field + " must be within " + min + ".." + max + ", got " + d);
        }
        return d;
    }

    boolean optionalBoolean(String field, boolean defaultValue) {
        Object value = json.getValue(field);
        if (value == null) {
            return defaultValue;
        }
        if (!(value instanceof Boolean b)) {
            throw ApiError.badField(field, "INVALID_TYPE", field + " must be true or false");
        }
        return b;
    }

    <E extends Enum<E>> E optionalEnum(String field, Class<E> type, E defaultValue, Set<E> allowed) {
        String value = optionalString(field, null);
        if (value == null) {
            return defaultValue;
        }
        for (E candidate : allowed) {
            if (candidate.name().equalsIgnoreCase(value)) {
                return candidate;
            }
        }
        throw ApiError.badField(field, "INVALID_VALUE", field + " must be one of "
                + allowed.stream().map(e -> e.name().toLowerCase(Locale.ROOT)).sorted().toList() + ", got '" + value + "'");
    }

    /** A JSON object whose values are all strings. */
    Map<String, String> stringMap(String field) {
        Object value = json.getValue(field);
        if (value == null) {
            return Map.of();
        }
        if (!(value instanceof JsonObject object)) {
            throw ApiError.badField(field, "INVALID_TYPE", field + " must be an object of string values");
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (String key : object.fieldNames()) {
            Object v = object.getValue(key);
            if (!(v instanceof String s)) {
                throw ApiError.badField(field + "." + key, "INVALID_TYPE", field + "." + key + " must be a string");
            }
            result.put(key, s);
        }
        return result;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) {
            t = t.getCause();
        }
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
