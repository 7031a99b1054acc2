package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.storagebus.manager.Manager;
import io.storagebus.manager.ManagerConfig;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kafka's data lost while ZooKeeper kept its own: the manager must not serve an empty
 * installation as if nothing had been. Health says DEGRADED and why, until an operator who
 * restored what could be restored accepts the loss.
 */
class StateLossIT {
    private static final Duration WAIT = Duration.ofSeconds(60);

    private static JsonObject task(Http http, Http.Response accepted) {
        assertEquals(202, accepted.status(), accepted.body());
        String taskId = accepted.json().getString("taskId");
        return await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json(),
                t -> t.getString("status").equals("SUCCEEDED") || t.getString("status").equals("FAILED"));
    }

    @Test
    void aKafkaThatLostTheStateIsNoticedAndSaidUntilTheLossIsAccepted(@TempDir Path tmp) throws Exception {
        InProcessKafka first = new InProcessKafka(tmp.resolve("kafka-1"));
        try (Cluster cluster = new Cluster(first, tmp)) {
            io.storagebus.worker.HostWorker host = cluster.startWorker("host-1");
            Http http = new Http(cluster.startManager().baseUrl());
            await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
            String images = Files.createDirectories(tmp.resolve("images")).toString();
            Http.Response created = http.post("/api/v1/domains", new JsonObject().put("name", "remembered").put("driver", "file")
                    .put("properties", new JsonObject().put("path", images)));
            assertEquals(201, created.status(), created.body());
            String domainId = created.json().getString("id");
            Http.Response volume = http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", "template")
                    .put("virtualSize", 1 << 20).put("format", "qcow2"));
            String templateId = volume.json().getString("volumeId");
            assertEquals("SUCCEEDED", task(http, volume).getString("status"));
            Http.Response snapshot = http.post("/api/v1/volumes/" + templateId + "/snapshots", new JsonObject().put("name", "before"));
            assertEquals("SUCCEEDED", task(http, snapshot).getString("status"));
            Http.Response clone = http.post("/api/v1/volumes/" + templateId + "/clone", new JsonObject().put("name", "child"));
            assertEquals("SUCCEEDED", task(http, clone).getString("status"), clone.body());
            String cloneId = clone.json().getString("volumeId");
            cluster.manager.close();
            // A manager started on the same state raises ZooKeeper's mark to where the state topics are now.
            cluster.manager = cluster.startManager("manager-1");
            assertFalse(new Http(cluster.manager.baseUrl()).get("/api/v1/health").json().containsKey("stateLost"));
            cluster.manager.close();
            cluster.manager = null;

            // The broker's data is gone: a new, empty Kafka, with the same ZooKeeper; the host
            // restarts on it (it checks the storage of the domain attached again).
            host.close();
            try (InProcessKafka empty = new InProcessKafka(tmp.resolve("kafka-2"));
                 io.storagebus.worker.HostWorker restarted = new io.storagebus.worker.HostWorker(io.storagebus.worker.WorkerConfig.of(
                         "host-1", Cluster.POOL, empty.bootstrapServers(), cluster.zooKeeper.connectString())).start()) {
                Manager manager = new Manager(ManagerConfig.of(empty.bootstrapServers(), cluster.zooKeeper.connectString(), 0)).start();
                try {
                    Http after = new Http(manager.baseUrl());
                    JsonObject health = after.get("/api/v1/health").json();
                    assertEquals("DEGRADED", health.getString("status"), health.encode());
                    assertTrue(health.getString("stateLost", "").matches(".*storagebus\\.state\\.domains-\\d+ ends at 0, ZooKeeper saw [1-9].*"),
                            health.encode());
                    assertTrue(after.get("/api/v1/domains").array().isEmpty());

                    // The directory attached again, even without importVolumes, and then its volumes imported: they come
                    // back with what only the storage still knows.
                    Http.Response attached = after.post("/api/v1/domains", new JsonObject().put("name", "remembered").put("driver", "file")
                            .put("properties", new JsonObject().put("path", images)));
                    assertEquals(201, attached.status(), attached.body());
                    Http.Response imported = after.post("/api/v1/domains/" + attached.json().getString("id") + "/import", "");
                    assertEquals(2, imported.json().getLong("importedVolumes"), imported.body());
                    assertEquals(0, after.post("/api/v1/domains/" + attached.json().getString("id") + "/import", "").json()
                            .getLong("importedVolumes"), "a second import adds nothing");
                    JsonObject template = after.get("/api/v1/volumes/" + templateId).json();
                    assertEquals("before", template.getJsonArray("snapshots").getJsonObject(0).getString("name"), template.encode());
                    assertEquals(templateId, after.get("/api/v1/volumes/" + cloneId).json().getString("parentVolumeId"));
                    assertEquals(409, after.delete("/api/v1/volumes/" + templateId).status(), "a template stays while its clone lives");

                    assertEquals(200, after.post("/api/v1/state/accept-loss", "").status());
                    assertFalse(after.get("/api/v1/health").json().containsKey("stateLost"), "accepted: the state as it is now counts");
                } finally {
                    manager.close();
                }
            }
        }
    }
}
