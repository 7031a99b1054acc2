package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Bad requests get a JSON error with a stable code, a message and the field, and change nothing. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RestValidationIT {
    private Cluster cluster;
    private Http http;
    private Path dir;
    private String domainId;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        dir = Files.createDirectories(tmp.resolve("images"));
        cluster = new Cluster(new InProcessKafka(tmp.resolve("kafka")), tmp);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/api/v1/health").status() == 200);
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", "good").put("driver", "file")
                .put("properties", new JsonObject().put("path", dir.toString())));
        assertEquals(201, r.status(), r.body());
        domainId = r.json().getString("id");
    }

    @AfterAll
    void stop() {
        cluster.close();
    }

    Stream<Arguments> badDomains() {
        return Stream.of(
                Arguments.of("{\"driver\":\"file\",\"properties\":{\"path\":\"/tmp\"}}", "REQUIRED", "name"),
                Arguments.of("{\"name\":\"d\",\"properties\":{\"path\":\"/tmp\"}}", "REQUIRED", "driver"),
                Arguments.of("{\"name\":\"d\",\"driver\":\"file\",\"colour\":\"red\"}", "UNKNOWN_FIELD", "colour"),
                Arguments.of("{\"name\":\"a/b\",\"driver\":\"file\",\"properties\":{\"path\":\"/tmp\"}}", "INVALID_NAME", "name"),
                Arguments.of("{\"name\":\"..\",\"driver\":\"file\",\"properties\":{\"path\":\"/tmp\"}}", "INVALID_NAME", "name"),
                Arguments.of("{\"name\":42,\"driver\":\"file\",\"properties\":{\"path\":\"/tmp\"}}", "INVALID_TYPE", "name"),
                Arguments.of("{\"name\":\"d\",\"driver\":\"nfs-magic\",\"properties\":{}}", "UNKNOWN_DRIVER", "driver"),
                Arguments.of("{\"name\":\"d\",\"driver\":\"file\",\"properties\":{}}", "INVALID_PROPERTIES", "properties.path"),
                Arguments.of("{\"name\":\"d\",\"driver\":\"file\",\"properties\":{\"path\":\"relative/dir\"}}", "INVALID_PROPERTIES", "properties.path"),
                Arguments.of("{\"name\":\"d\",\"driver\":\"file\",\"properties\":{\"path\":\"/no/such/dir\"}}", "INVALID_PROPERTIES", "properties.path"),
                Arguments.of("{\"name\":\"d\",\"driver\":\"file\",\"properties\":{\"path\":7}}", "INVALID_TYPE", "properties.path"),
                Arguments.of("{\"name\":\"d\",\"driver\":\"file\",\"properties\":{\"path\":\"/tmp\"},\"pool\":\"Bad Pool\"}", "INVALID_NAME", "pool"),
                Arguments.of("[1,2]", "INVALID_JSON", null),
                Arguments.of("{\"name\":", "INVALID_JSON", null));
    }

    @ParameterizedTest
    @MethodSource("badDomains")
    void badDomainIsRefused(String body, String code, String field) {
        assertError(http.post("/api/v1/domains", body), 400, code, field);
    }

    Stream<Arguments> badVolumes() {
        return Stream.of(
                Arguments.of("{\"virtualSize\":1048576}", "REQUIRED", "name"),
                Arguments.of("{\"name\":\"v\"}", "REQUIRED", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":-1048576}", "OUT_OF_RANGE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":0}", "OUT_OF_RANGE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1000}", "NOT_ALIGNED", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1e300}", "INVALID_TYPE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1.5}", "INVALID_TYPE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":\"1G\"}", "INVALID_TYPE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":140737488355328}", "OUT_OF_RANGE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":18446744073709552128}", "OUT_OF_RANGE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":9223372036854775808}", "OUT_OF_RANGE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1048576.5}", "INVALID_TYPE", "virtualSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":-5,\"virtualSize\":1048576}", "INVALID_JSON", null),
                Arguments.of("{\"name\":\"v/../../etc\",\"virtualSize\":1048576}", "INVALID_NAME", "name"),
                Arguments.of("{\"name\":\"a..b\",\"virtualSize\":1048576}", "INVALID_NAME", "name"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1048576,\"format\":\"vmdk\"}", "INVALID_VALUE", "format"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1048576,\"allocation\":\"fat\"}", "INVALID_VALUE", "allocation"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1048576,\"path\":\"/etc\"}", "UNKNOWN_FIELD", "path"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1048576,\"initialSize\":2097152}", "OUT_OF_RANGE", "initialSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1048576,\"initialSize\":0}", "OUT_OF_RANGE", "initialSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1048576,\"initialSize\":\"1M\"}", "INVALID_TYPE", "initialSize"),
                Arguments.of("{\"name\":\"v\",\"virtualSize\":1048576,\"allocation\":\"preallocated\",\"initialSize\":4096}", "NOT_THIN", "initialSize"));
    }

    @ParameterizedTest
    @MethodSource("badVolumes")
    void badVolumeIsRefused(String body, String code, String field) {
        assertError(http.post("/api/v1/domains/" + domainId + "/volumes", body), 400, code, field);
    }

    /** Numbers are read exactly: one beyond 64 bits is refused as it was sent, never wrapped around into another. */
    @Test
    void numbersBeyondSixtyFourBitsAreNamedAsSent() {
        Http.Response r = http.post("/api/v1/domains/" + domainId + "/volumes", "{\"name\":\"v\",\"virtualSize\":9223372036854775808}");
        assertTrue(r.json().getString("message").endsWith("got 9223372036854775808"), r.body());
        r = http.post("/api/v1/domains/" + domainId + "/maintenance", "{\"reason\":\"r\",\"deadlineSeconds\":1.5}");
        assertEquals("deadlineSeconds must be a whole number, got 1.5", r.json().getString("message"), r.body());
    }

    @Test
    void unknownIdsAreNotFound() {
        assertError(http.get("/api/v1/domains/nope"), 404, "DOMAIN_NOT_FOUND", null);
        assertError(http.get("/api/v1/volumes/nope"), 404, "VOLUME_NOT_FOUND", null);
        assertError(http.get("/api/v1/tasks/nope"), 404, "TASK_NOT_FOUND", null);
        assertError(http.post("/api/v1/domains/nope/volumes", "{\"name\":\"v\",\"virtualSize\":1048576}"), 404, "DOMAIN_NOT_FOUND", null);
        assertError(http.get("/api/v1/no-such-thing"), 404, "NOT_FOUND", null);
        assertError(http.post("/api/v1/volumes/nope/monitor", "{\"qmpSocket\":\"/run/qmp.sock\",\"nodeName\":\"n\"}"), 404, "VOLUME_NOT_FOUND", null);
    }

    @Test
    void duplicateDomainNameIsAConflict() {
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", "good").put("driver", "file")
                .put("properties", new JsonObject().put("path", dir.toString())));
        assertError(r, 409, "DOMAIN_EXISTS", "name");
    }

    @Test
    void refusedRequestsLeaveNothingBehind() {
        badDomains().forEach(a -> http.post("/api/v1/domains", (String) a.get()[0]));
        badVolumes().forEach(a -> http.post("/api/v1/domains/" + domainId + "/volumes", (String) a.get()[0]));
        assertEquals(1, http.get("/api/v1/domains").array().stream()
                        .filter(d -> !java.util.Set.of("paged", "keyed").contains(((JsonObject) d).getString("name"))).count(),
                "no domain but the good one (and those of the paging and idempotency tests)");
        assertTrue(http.get("/api/v1/domains/" + domainId + "/volumes").array().isEmpty());
        assertFalse(Files.exists(dir.resolve("volumes")), "no volume file may be created");
    }

    /** Lists come a page at a time, each pointing at the next with a Link header, in a stable order. */
    @Test
    void listsPageWithACursorInTheLinkHeader() throws Exception {
        Path paged = Files.createDirectories(dir.getParent().resolve("paged"));
        Http.Response d = http.post("/api/v1/domains", new JsonObject().put("name", "paged").put("driver", "file")
                .put("properties", new JsonObject().put("path", paged.toString())));
        assertEquals(201, d.status(), d.body());
        String paging = d.json().getString("id");
        java.util.List<String> created = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Http.Response v = http.post("/api/v1/domains/" + paging + "/volumes", new JsonObject().put("name", "p" + i).put("virtualSize", 1 << 20));
            assertEquals(202, v.status(), v.body());
            created.add(v.json().getString("volumeId"));
        }
        java.util.List<String> listed = new java.util.ArrayList<>();
        java.util.List<Integer> sizes = new java.util.ArrayList<>();
        for (String next = "/api/v1/domains/" + paging + "/volumes?limit=2"; next != null; ) {
            Http.Response page = http.get(next);
            assertEquals(200, page.status(), page.body());
            sizes.add(page.array().size());
            page.array().forEach(v -> listed.add(((JsonObject) v).getString("id")));
            String link = page.header("Link");
            next = link == null ? null : link.substring(link.indexOf('<') + 1, link.indexOf('>'));
        }
        assertEquals(java.util.List.of(2, 2, 1), sizes);
        assertEquals(created, listed, "oldest first, each once");

        java.util.List<String> tasks = new java.util.ArrayList<>();
        for (String next = "/api/v1/tasks?limit=3"; next != null; ) {
            Http.Response page = http.get(next);
            page.array().forEach(t -> tasks.add(((JsonObject) t).getString("id")));
            String link = page.header("Link");
            next = link == null ? null : link.substring(link.indexOf('<') + 1, link.indexOf('>'));
        }
        assertEquals(tasks.size(), new java.util.HashSet<>(tasks).size(), "no task twice: " + tasks);
        assertEquals(http.get("/api/v1/tasks").array().size(), tasks.size(), "the pages hold the whole list");

        assertError(http.get("/api/v1/domains/" + paging + "/volumes?limit=0"), 400, "OUT_OF_RANGE", "limit");
        assertError(http.get("/api/v1/domains/" + paging + "/volumes?limit=1001"), 400, "OUT_OF_RANGE", "limit");
        assertError(http.get("/api/v1/tasks?after=bm90LWEtY3Vyc29y"), 400, "INVALID_CURSOR", "after");

        // Every list route pages the same way; a list by id refuses another list's cursor.
        Http.Response hosts = http.get("/api/v1/hosts?limit=1");
        assertEquals(200, hosts.status(), hosts.body());
        assertEquals("host-1", hosts.array().getJsonObject(0).getString("hostId"));
        String taskCursor = http.get("/api/v1/tasks?limit=1").header("Link").replaceAll(".*after=([^>]+)>.*", "$1");
        assertError(http.get("/api/v1/hosts?after=" + taskCursor), 400, "INVALID_CURSOR", "after");
        assertEquals(200, http.get("/api/v1/backups?limit=1").status());
        assertEquals(200, http.get("/api/v1/volumes/" + created.get(0) + "/backups?limit=1").status());
        assertError(http.get("/api/v1/backup-policies?limit=0"), 400, "OUT_OF_RANGE", "limit");
    }

    /** A create sent again with the same Idempotency-Key, after a lost answer say, makes nothing twice. */
    @Test
    void aCreateSentAgainWithItsIdempotencyKeyMakesOneVolume() throws Exception {
        Path keyed = Files.createDirectories(dir.getParent().resolve("keyed"));
        String domain = http.post("/api/v1/domains", new JsonObject().put("name", "keyed").put("driver", "file")
                .put("properties", new JsonObject().put("path", keyed.toString()))).json().getString("id");
        JsonObject body = new JsonObject().put("name", "once").put("virtualSize", 1 << 20);
        Http.Response first = http.post("/api/v1/domains/" + domain + "/volumes", body, "order-4711");
        assertEquals(202, first.status(), first.body());
        Http.Response again = http.post("/api/v1/domains/" + domain + "/volumes", body, "order-4711");
        assertEquals(202, again.status(), again.body());
        assertEquals(first.json().getString("volumeId"), again.json().getString("volumeId"));
        assertEquals(first.json().getString("taskId"), again.json().getString("taskId"));
        assertEquals(true, again.json().getBoolean("replayed"));
        assertEquals(1, http.get("/api/v1/domains/" + domain + "/volumes").array().size());

        assertError(http.post("/api/v1/domains/" + domain + "/volumes", body.copy().put("name", "other"), "order-4711"), 409,
                "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key");
        assertError(http.post("/api/v1/domains/" + domain + "/volumes", body.copy().put("name", "other"), "no spaces allowed"), 400,
                "INVALID_VALUE", "Idempotency-Key");
        assertError(http.post("/api/v1/domains/" + domain + "/volumes", body), 409, "VOLUME_EXISTS", "name");
    }

    private static void assertError(Http.Response r, int status, String code, String field) {
        assertEquals(status, r.status(), r.body());
        assertTrue(r.contentType().startsWith("application/json"), r.contentType());
        JsonObject error = r.json();
        assertEquals(code, error.getString("code"), r.body());
        assertFalse(error.getString("message", "").isBlank(), "a readable message: " + r.body());
        assertEquals(field, error.getString("field"), r.body());
    }
}
