package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every write route of the REST API fed mutated versions of a valid body (each field swapped
 * for another JSON type, a 100k-character string, NUL and path characters, huge and negative
 * numbers, deep nesting, unknown fields) and bytes that are no JSON at all: never a 500, always
 * a JSON answer with a code, and nothing stored that was not answered 201/202. Seeded.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RestFuzzIT {
    private static final int MUTATIONS_PER_ROUTE = 150;

    private Cluster cluster;
    private Http http;
    private Path tmp;
    private String domainId;
    private String volumeId;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(Duration.ofSeconds(60)).until(() -> http.get("/api/v1/health").status() == 200);
        domainId = http.post("/api/v1/domains", new JsonObject().put("name", "fuzz").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("fuzz")).toString()))).json().getString("id");
        Http.Response v = http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", "base").put("virtualSize", 1 << 20));
        volumeId = v.json().getString("volumeId");
        await().atMost(Duration.ofSeconds(60)).until(() -> "READY".equals(http.get("/api/v1/volumes/" + volumeId).json().getString("status")));
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void mutatedBodiesOnEveryWriteRouteAreAnsweredWithAJsonCodeNeverA500AndStoreNothingUnanswered() throws Exception {
        Random random = new Random(20261121L);
        Map<Integer, Integer> statuses = new TreeMap<>();
        int domainsCreated = 0;
        for (Route route : routes()) {
            for (int i = 0; i < MUTATIONS_PER_ROUTE; i++) {
                String body = i % 10 == 9 ? garbage(random) : mutate(route.body().copy(), random).encode();
                Http.Response r = route.method().equals("PUT") ? http.put(route.path(), new JsonObject(jsonOrEmpty(body)))
                        : http.post(route.path(), body);
                statuses.merge(r.status(), 1, Integer::sum);
                assertTrue(r.status() < 500 || r.status() == 503, route.path() + " answered " + r.status() + " to " + abbreviated(body) + ": " + r.body());
                JsonObject answer = r.json();
                if (r.status() >= 400) {
                    assertTrue(answer.getString("code") != null && answer.getString("message") != null, r.body());
                }
                if (route.path().equals("/api/v1/domains") && r.status() == 201) {
                    domainsCreated++;
                }
            }
        }
        System.out.println("REST fuzz: " + routes().size() + " routes, answers by status " + statuses);
        assertEquals(1 + domainsCreated, http.get("/api/v1/domains").array().size(), "a domain exists for every 201 and no other");
        assertTrue(statuses.keySet().stream().anyMatch(s -> s >= 400), "the mutations must be refused sometimes");
    }

    /**
     * Requests malformed below the body (a bad %-escape, a request line or headers over the
     * limits) and bodies that are not strict JSON of the declared type: each is answered with a
     * JSON code, and nothing a stranger sends puts a stack trace in the log.
     */
    @Test
    void malformedPathsHeadersNumbersAndContentTypesAreAnsweredAsJsonWithoutAStackTrace() throws Exception {
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logged = new ch.qos.logback.core.read.ListAppender<>();
        logged.start();
        root.addAppender(logged);
        String volumes = "/api/v1/domains/" + domainId + "/volumes";
        String good = "{\"name\":\"v\",\"virtualSize\":1048576}";
        try {
            assertRaw(raw("GET /api/v1/volumes/%zz HTTP/1.1", ""), 400, "BAD_REQUEST");
            assertRaw(raw("GET /api/v1/volumes/" + "x".repeat(10_000) + " HTTP/1.1", ""), 414, "URI_TOO_LONG");
            assertRaw(raw("GET /api/v1/domains HTTP/1.1", "X-Padding: " + "p".repeat(100_000) + "\r\n"), 431, "HEADERS_TOO_LARGE");
            assertRaw(raw("POST " + volumes + " HTTP/1.1", "Content-Type: text/plain\r\nContent-Length: " + good.length() + "\r\n", good),
                    415, "UNSUPPORTED_MEDIA_TYPE");
            assertRaw(raw("POST " + volumes + " HTTP/1.1", "Content-Length: " + good.length() + "\r\n", good), 415, "UNSUPPORTED_MEDIA_TYPE");
            for (String body : List.of("[1,2]", "{\"name\":\"v\" /* a comment */,\"virtualSize\":1048576}", "\uFEFF" + good,
                    "{\"name\":\"v\",\"virtualSize\":-5,\"virtualSize\":1048576}")) {
                Http.Response r = http.post(volumes, body);
                assertEquals(400, r.status(), body + ": " + r.body());
                assertEquals("INVALID_JSON", r.json().getString("code"), r.body());
                assertTrue(!r.body().contains("Exception") && !r.body().contains("cannot be cast"), "no Java in the answer: " + r.body());
            }
            Http.Response huge = http.post(volumes, "{\"name\":\"v\",\"virtualSize\":18446744073709552128}");
            assertEquals("OUT_OF_RANGE", huge.json().getString("code"), huge.body());
            Http.Response release = http.post("/api/v1/pools/default/spm/release", "{\"now\":");
            assertEquals(400, release.status(), "a malformed body is refused even where no field is read: " + release.body());
            Http.Response nul = http.post("/api/v1/domains/" + domainId + "/maintenance", "{\"reason\":\"a\\u0000b\"}");
            assertEquals("INVALID_VALUE", nul.json().getString("code"), nul.body());
            assertEquals("reason", nul.json().getString("field"), nul.body());
        } finally {
            root.detachAppender(logged);
        }
        assertTrue(logged.list.stream().noneMatch(e -> e.getThrowableProxy() != null),
                "no stack trace for a stranger's request: " + logged.list.stream().filter(e -> e.getThrowableProxy() != null).toList());
    }

    /** Status and body of one request written by hand: the Java client would refuse to send most of these. */
    private String[] raw(String requestLine, String headers, String... body) throws Exception {
        java.net.URI base = java.net.URI.create(http.base());
        try (java.net.Socket socket = new java.net.Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(10_000);
            String request = requestLine + "\r\nHost: " + base.getHost() + "\r\nConnection: close\r\n" + headers + "\r\n"
                    + (body.length == 0 ? "" : body[0]);
            socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            int split = answer.indexOf("\r\n\r\n");
            return new String[] {answer.substring(0, answer.indexOf("\r\n")), split < 0 ? "" : answer.substring(split + 4), answer};
        }
    }

    private static void assertRaw(String[] answer, int status, String code) {
        // HTTP/1.0 after a request line too long to read: Netty could not tell the version.
        assertTrue(answer[0].matches("HTTP/1\\.[01] " + status + " .*"), answer[0] + "\n" + answer[2]);
        assertTrue(answer[2].toLowerCase(java.util.Locale.ROOT).contains("content-type: application/json"), answer[2]);
        assertEquals(code, new JsonObject(answer[1]).getString("code"), answer[2]);
    }

    private record Route(String method, String path, JsonObject body) {
    }

    private List<Route> routes() throws Exception {
        String v = "/api/v1/volumes/" + volumeId;
        return List.of(
                new Route("POST", "/api/v1/domains", new JsonObject().put("name", "d").put("driver", "file")
                        .put("properties", new JsonObject().put("path", tmp.resolve("fuzz").toString()))),
                new Route("POST", "/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", "v").put("virtualSize", 1 << 20)
                        .put("format", "qcow2").put("allocation", "thin").put("initialSize", 1 << 19)),
                new Route("POST", v + "/copy", new JsonObject().put("targetDomainId", domainId).put("name", "copy")),
                new Route("POST", v + "/move", new JsonObject().put("targetDomainId", domainId)),
                new Route("POST", v + "/prepare", new JsonObject().put("hostId", "host-9")),
                new Route("POST", v + "/monitor", new JsonObject().put("qmpSocket", "/run/q.sock").put("nodeName", "n")),
                new Route("POST", v + "/snapshots", new JsonObject().put("name", "s")),
                new Route("POST", v + "/backups", new JsonObject().put("targetDomainId", domainId).put("incremental", true)),
                new Route("PUT", v + "/backup-policy", new JsonObject().put("targetDomainId", domainId).put("every", "PT1H").put("keepLast", 3)),
                new Route("POST", "/api/v1/domains/" + domainId + "/maintenance", new JsonObject().put("reason", "r").put("deadlineSeconds", 1)),
                new Route("POST", "/api/v1/backups/nope/restore", new JsonObject().put("targetDomainId", domainId).put("name", "r")));
    }

    /** One field changed, removed or added, or the whole body nested deeper. */
    private static JsonObject mutate(JsonObject body, Random random) {
        List<String> fields = new ArrayList<>(body.fieldNames());
        String field = fields.isEmpty() || random.nextInt(8) == 0 ? "extra" + random.nextInt(3) : fields.get(random.nextInt(fields.size()));
        switch (random.nextInt(4)) {
            case 0 -> body.remove(field);
            case 1 -> {
                JsonObject nested = body;
                for (int d = 0; d < 1 + random.nextInt(64); d++) {
                    nested = new JsonObject().put(field, nested);
                }
                return nested;
            }
            default -> body.put(field, strange(random));
        }
        return body;
    }

    private static Object strange(Random random) {
        return switch (random.nextInt(14)) {
            case 0 -> null;
            case 1 -> random.nextBoolean();
            case 2 -> Long.MAX_VALUE;
            case 3 -> -random.nextInt(1 << 20);
            case 4 -> 1e308;
            case 5 -> "x".repeat(100_000);
            case 6 -> "../../etc/passwd";
            case 7 -> "a\u0000b";
            case 8 -> "名前\uD83D\uDCBE";
            case 9 -> new JsonArray().add(1).add("two");
            case 10 -> new JsonObject().put("k", new JsonObject().put("k", "v"));
            case 11 -> "";
            case 12 -> "PT-1H";
            default -> 0.5;
        };
    }

    private static String garbage(Random random) {
        return switch (random.nextInt(5)) {
            case 0 -> "";
            case 1 -> "[1,2,3]";
            case 2 -> "{\"name\":";
            case 3 -> "null";
            default -> {
                byte[] b = new byte[random.nextInt(200)];
                random.nextBytes(b);
                yield new String(b, java.nio.charset.StandardCharsets.ISO_8859_1);
            }
        };
    }

    private static String jsonOrEmpty(String body) {
        try {
            return new JsonObject(body).encode();
        } catch (RuntimeException e) {
            return "{}";
        }
    }

    private static String abbreviated(String body) {
        return body.length() > 200 ? body.substring(0, 200) + "…" : body;
    }
}
