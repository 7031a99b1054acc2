package io.storagebus.manager.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.storagebus.manager.requests.RequestException;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/** Each way a request is refused has one HTTP answer, given here and nowhere else. */
class ApiErrorTest {
    @Test
    void aMissingResourceIs404WithItsCode() {
        ApiError e = ApiError.of(new RequestException.NotFound("VOLUME_NOT_FOUND", "no volume with id 'x'"), "/api/v1/volumes/x");
        assertEquals(404, e.status());
        assertEquals(new JsonObject().put("code", "VOLUME_NOT_FOUND").put("message", "no volume with id 'x'"), e.toJson());
    }

    @Test
    void aConflictIs409AndKeepsTheFieldItNames() {
        ApiError e = ApiError.of(new RequestException.Conflict("VOLUME_EXISTS", "taken", "name"), "/");
        assertEquals(409, e.status());
        assertEquals("name", e.toJson().getString("field"));
        assertFalse(e.toJson().containsKey("errors"));
    }

    @Test
    void anInvalidFieldIs400ListingTheField() {
        JsonObject json = ApiError.of(new RequestException.Invalid("virtualSize", "OUT_OF_RANGE", "too big"), "/").toJson();
        assertEquals("OUT_OF_RANGE", json.getString("code"));
        assertEquals("virtualSize", json.getString("field"));
        assertEquals(new JsonObject().put("field", "virtualSize").put("code", "OUT_OF_RANGE").put("message", "too big"),
                json.getJsonArray("errors").getJsonObject(0));
    }

    @Test
    void unavailableIs503AndNoAnswerInTimeIs504() {
        assertEquals(503, ApiError.of(new RequestException.Unavailable("NO_HOST", "none", "pool", false), "/").status());
        assertEquals(504, ApiError.of(new RequestException.Unavailable("STORAGE_CHECK_TIMEOUT", "late", "hostId", true), "/").status());
    }

    @Test
    void aWriteOnAStandbyIsRedirectedToTheSameRequestOnTheActiveManager() {
        ApiError e = ApiError.of(new RequestException.NotActive("standby", "manager-2", "http://m2:8080"), "/api/v1/volumes/v/prepare?x=1");
        assertEquals(307, e.status());
        assertEquals("http://m2:8080/api/v1/volumes/v/prepare?x=1", e.headers().get("Location"));
        assertEquals("NOT_ACTIVE_MANAGER", e.toJson().getString("code"));
        assertEquals("manager-2", e.toJson().getJsonObject("activeManager").getString("id"));
    }

    @Test
    void duringAnElectionAWriteIs503WithRetryAfter() {
        ApiError e = ApiError.of(new RequestException.NotActive("electing", null, null), "/api/v1/domains");
        assertEquals(503, e.status());
        assertEquals("2", e.headers().get("Retry-After"));
        assertEquals("NO_ACTIVE_MANAGER", e.toJson().getString("code"));
    }
}
