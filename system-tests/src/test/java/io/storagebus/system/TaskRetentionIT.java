package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Finished tasks leave the state after the retention; what they made stays. */
class TaskRetentionIT {
    @Test
    void aFinishedTaskIsRemovedAfterTheRetentionAndItsVolumeStays(@TempDir Path dir) throws Exception {
        try (Cluster cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir)) {
            cluster.startWorker("host-1");
            Http http = new Http(cluster.startManager("manager-1", c -> c.withTaskRetention(Duration.ofSeconds(2))).baseUrl());
            await().atMost(Duration.ofSeconds(60)).until(() -> http.get("/api/v1/health").status() == 200);
            String domain = http.post("/api/v1/domains", new JsonObject().put("name", "d").put("driver", "file")
                    .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("images")).toString())))
                    .json().getString("id");
            JsonObject created = http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", "v").put("virtualSize", 1 << 20))
                    .json();
            String task = created.getString("taskId");
            await().atMost(Duration.ofSeconds(30)).until(() -> "SUCCEEDED".equals(http.get("/api/v1/tasks/" + task).json().getString("status")));

            await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/api/v1/tasks/" + task).status() == 404);
            assertTrue(http.get("/api/v1/tasks").array().stream().noneMatch(t -> task.equals(((JsonObject) t).getString("id"))));
            assertEquals("READY", http.get("/api/v1/volumes/" + created.getString("volumeId")).json().getString("status"), "the volume stays");
        }
    }
}
