package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.storagebus.manager.Manager;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two managers of one installation: the standby answers reads, points writes at the active one
 * with a 307, and takes over when the active one goes, with the state its predecessor committed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ManagerFailoverIT {
    private static final Duration WAIT = Duration.ofSeconds(60);

    private Cluster cluster;
    private Manager standby;
    private Path tmp;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        this.tmp = tmp;
        cluster = new Cluster(new InProcessKafka(tmp.resolve("kafka")), tmp);
        cluster.startWorker("host-1");
        cluster.startManager();
        standby = cluster.startManager("manager-2");
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(standby, cluster);
    }

    @Test
    void theStandbyAnswersReadsPointsWritesAtTheActiveOneAndTakesOver() throws Exception {
        Http active = new Http(cluster.manager.baseUrl());
        Http second = new Http(standby.baseUrl());
        assertTrue(cluster.manager.isActive());
        assertFalse(standby.isActive());
        await().atMost(WAIT).until(() -> active.get("/api/v1/health").status() == 200);

        String domainId = domain(active, "ha");
        String before = readyVolume(active, domainId, "before");
        await().atMost(WAIT).until(() -> second.get("/api/v1/volumes/" + before).status() == 200);
        assertEquals("STANDBY", second.get("/api/v1/health").json().getString("role"));
        assertEquals("ACTIVE", active.get("/api/v1/health").json().getString("role"));
        // Either manager lists both, the active one first.
        for (Http manager : List.of(active, second)) {
            JsonArray managers = manager.get("/api/v1/health").json().getJsonArray("managers");
            assertEquals(List.of("manager-1 ACTIVE " + cluster.manager.baseUrl(), "manager-2 STANDBY " + standby.baseUrl()),
                    managers.stream().map(JsonObject.class::cast).map(m -> m.getString("id") + " " + m.getString("role") + " " + m.getString("url")).toList());
        }

        String path = "/api/v1/domains/" + domainId + "/volumes";
        Http.Response redirected = second.post(path, new JsonObject().put("name", "refused").put("virtualSize", 1 << 20));
        assertEquals(307, redirected.status(), redirected.body());
        assertEquals("NOT_ACTIVE_MANAGER", redirected.json().getString("code"));
        assertEquals(cluster.manager.baseUrl() + path, redirected.header("Location"));
        assertEquals("manager-1", redirected.json().getJsonObject("activeManager").getString("id"));

        operatorCliWorksThroughTheStandby(domainId);

        long closing = System.nanoTime();
        cluster.manager.close();
        cluster.manager = null;
        await().atMost(WAIT).until(standby::isActive);
        await().atMost(WAIT).until(() -> second.get("/api/v1/health").json().getJsonArray("managers").stream().map(JsonObject.class::cast)
                .map(m -> m.getString("id") + " " + m.getString("role")).toList(), List.of("manager-2 ACTIVE")::equals);
        System.out.printf("standby took over %d ms after the active manager began to close%n", (System.nanoTime() - closing) / 1_000_000);

        assertEquals("READY", second.get("/api/v1/volumes/" + before).json().getString("status"));
        readyVolume(second, domainId, "after");
        Http.Response duplicate = second.post(path, new JsonObject().put("name", "before").put("virtualSize", 1 << 20));
        assertEquals(409, duplicate.status(), "the new active manager knows its predecessor's volumes: " + duplicate.body());
    }

    /** The CLI asked the standby: reads answered there, the write followed to the active manager. */
    private void operatorCliWorksThroughTheStandby(String domainId) {
        String url = standby.baseUrl();
        CliRun created = CliRun.of("volumes", "create", domainId, "--name", "via-cli", "--size", "16M", "--format", "qcow2", "--url", url, "--output", "json");
        assertEquals(0, created.exit(), created.err());
        String volumeId = new JsonObject(created.out()).getString("volumeId");
        await().atMost(WAIT).until(() -> CliRun.of("volumes", "show", volumeId, "--url", url).out().contains("READY"));
        CliRun listed = CliRun.of("volumes", "list", domainId, "--url", url);
        assertTrue(listed.out().lines().anyMatch(l -> l.startsWith(volumeId) && l.contains("via-cli") && l.contains("READY")), listed.out());

        CliRun duplicate = CliRun.of("volumes", "create", domainId, "--name", "via-cli", "--size", "16M", "--url", url);
        assertEquals(1, duplicate.exit());
        assertTrue(duplicate.err().contains("409 VOLUME_EXISTS"), duplicate.err());
        CliRun misused = CliRun.of("volumes", "create", domainId, "--url", url);
        assertEquals(2, misused.exit());
        assertTrue(misused.err().contains("--name is required"), misused.err());

        CliRun tail = CliRun.of("events", "tail", "--from-beginning", "--type", "VolumeCreated", "--volume", volumeId, "--count", "1",
                "--bootstrap-servers", cluster.kafka.bootstrapServers());
        assertEquals(0, tail.exit(), tail.err());
        assertTrue(tail.out().contains("VolumeCreated") && tail.out().contains("name=via-cli"), tail.out());
    }

    private String domain(Http http, String name) throws Exception {
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", name).put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("domains").resolve(name)).toString())));
        assertEquals(201, r.status(), r.body());
        return r.json().getString("id");
    }

    private static String readyVolume(Http http, String domainId, String name) {
        Http.Response created = http.post("/api/v1/domains/" + domainId + "/volumes",
                new JsonObject().put("name", name).put("virtualSize", 16L << 20).put("format", "qcow2"));
        assertEquals(202, created.status(), created.body());
        String volumeId = created.json().getString("volumeId");
        await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getString("status"), "READY"::equals);
        return volumeId;
    }
}
