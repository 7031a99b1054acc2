package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The broker goes away under a running stack and comes back: requests fail cleanly, then work. */
class BrokerOutageIT {
    private Cluster cluster;

    @AfterEach
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void requestDuringOutageIsRefusedWithoutTraceAndSucceedsAfterRestart(@TempDir Path tmp) throws Exception {
        InProcessKafka kafka = new InProcessKafka(tmp.resolve("kafka"));
        cluster = new Cluster(kafka, tmp);
        cluster.startWorker("host-1");
        Http http = new Http(cluster.startManager().baseUrl());
        await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/api/v1/health").status() == 200);
        Path images = Files.createDirectories(tmp.resolve("images"));
        Http.Response domain = http.post("/api/v1/domains", new JsonObject().put("name", "d").put("driver", "file")
                .put("properties", new JsonObject().put("path", images.toString())));
        assertEquals(201, domain.status(), domain.body());
        String volumes = "/api/v1/domains/" + domain.json().getString("id") + "/volumes";
        JsonObject request = new JsonObject().put("name", "v").put("virtualSize", 1 << 20);

        kafka.stop();
        Http.Response refused = http.post(volumes, request);
        assertEquals(503, refused.status(), refused.body());
        assertEquals("UNAVAILABLE", refused.json().getString("code"));
        assertEquals(503, http.get("/api/v1/health").status());
        assertEquals(0, http.get(volumes).array().size(), "a refused request leaves nothing in the view");

        kafka.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> http.get("/api/v1/health").status() == 200);
        Http.Response accepted = await().atMost(Duration.ofSeconds(30)).until(() -> http.post(volumes, request),
                r -> r.status() != 503);
        assertEquals(202, accepted.status(), "the name is free again: " + accepted.body());
        String volumeId = accepted.json().getString("volumeId");
        await().atMost(Duration.ofSeconds(60)).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getString("status"),
                "READY"::equals);
    }
}
