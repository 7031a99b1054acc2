package io.storagebus.manager.api;

import java.util.List;
import java.util.Map;

import io.storagebus.manager.requests.RequestException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * An error answer: HTTP status, a stable code clients can branch on, a message a person
 * understands, the offending field (if one), and one entry per problem when there are several.
 */
public final class ApiError extends RuntimeException {
    /** One problem with one field. */
    public record FieldError(String field, String code, String message) {
    }

    private final int status;
    private final String code;
    private final String field;
    private final List<FieldError> errors;
    private final Map<String, String> headers;
    private final JsonObject extra;

    public ApiError(int status, String code, String message, String field, List<FieldError> errors) {
        this(status, code, message, field, errors, Map.of(), new JsonObject());
    }

    private ApiError(int status, String code, String message, String field, List<FieldError> errors, Map<String, String> headers,
                     JsonObject extra) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.field = field;
        this.errors = List.copyOf(errors);
        this.headers = Map.copyOf(headers);
        this.extra = extra;
    }

    /**
     * The HTTP answer to a refused request: 404, 409, 400 with the field, 503 (504 when asked and
     * not answered in time), or for a write on a standby 307 to the same {@code uri} on the active
     * manager.
     */
    public static ApiError of(RequestException e, String uri) {
        if (e instanceof RequestException.NotFound) {
            return notFound(e.code(), e.getMessage());
        } else if (e instanceof RequestException.Conflict) {
            return conflict(e.code(), e.getMessage(), e.field());
        } else if (e instanceof RequestException.Invalid i) {
            return new ApiError(400, e.code(), e.getMessage(), e.field(),
                    i.problems().stream().map(p -> new FieldError(p.field(), p.code(), p.message())).toList());
        } else if (e instanceof RequestException.Unavailable u) {
            return new ApiError(u.timedOut() ? 504 : 503, e.code(), e.getMessage(), e.field(), List.of());
        }
        RequestException.NotActive n = (RequestException.NotActive) e;
        return n.activeUrl() == null ? noActiveManager(e.getMessage()) : notActive(e.getMessage(), n.activeManagerId(), n.activeUrl() + uri);
    }

    /** A write sent to a standby manager: 307 to the same request on the active one. */
    public static ApiError notActive(String message, String activeManagerId, String location) {
        return new ApiError(307, "NOT_ACTIVE_MANAGER", message, null, List.of(), Map.of("Location", location),
                new JsonObject().put("activeManager", new JsonObject().put("id", activeManagerId).put("location", location)));
    }

    /** A write while no manager is active, during an election. */
    public static ApiError noActiveManager(String message) {
        return new ApiError(503, "NO_ACTIVE_MANAGER", message, null, List.of(), Map.of("Retry-After", "2"), new JsonObject());
    }

    /** No token, or one that is not valid: 401 with the scheme to use. */
    public static ApiError unauthenticated(String message) {
        return new ApiError(401, "UNAUTHENTICATED", message, null, List.of(), Map.of("WWW-Authenticate", "Bearer realm=\"storagebus\""),
                new JsonObject());
    }

    /** A valid token whose role does not allow the request: 403 naming the role it needs. */
    public static ApiError forbidden(String message, String requiredRole) {
        return new ApiError(403, "FORBIDDEN", message, null, List.of(), Map.of(), new JsonObject().put("requiredRole", requiredRole));
    }

    public static ApiError badField(String field, String code, String message) {
        return new ApiError(400, code, message, field, List.of(new FieldError(field, code, message)));
    }

    public static ApiError notFound(String code, String message) {
        return new ApiError(404, code, message, null, List.of());
    }

    public static ApiError conflict(String code, String message, String field) {
        return new ApiError(409, code, message, field, List.of());
    }

    /** A write Kafka neither confirmed nor refused: the client learns that it must not assume either. */
    public static ApiError outcomeUnknown(String message) {
        return new ApiError(503, "OUTCOME_UNKNOWN", message, null, List.of(), Map.of("Retry-After", "2"), new JsonObject());
    }

    public static ApiError unavailable(String message) {
        return new ApiError(503, "UNAVAILABLE", message, null, List.of());
    }

    public int status() {
        return status;
    }

    public Map<String, String> headers() {
        return headers;
    }

    public JsonObject toJson() {
        JsonObject json = new JsonObject().put("code", code).put("message", getMessage());
        if (field != null) {
            json.put("field", field);
        }
        if (!errors.isEmpty()) {
            JsonArray list = new JsonArray();
            errors.forEach(e -> list.add(new JsonObject().put("field", e.field()).put("code", e.code()).put("message", e.message())));
            json.put("errors", list);
        }
        return json.mergeIn(extra);
    }
}
