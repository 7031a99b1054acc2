package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.schema.VolumeLeaseLost;
import io.storagebus.schema.VolumePrepared;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Volume leases with real loop devices (blockfile domain): one host at a time uses a volume, a
 * teardown frees it, and a host whose ZooKeeper session is lost detaches the volume and says so.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VolumeLeaseIT {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private Cluster cluster;
    private Http http;
    private String domainId;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        cluster = new Cluster(new InProcessKafka(tmp.resolve("kafka")), tmp);
        cluster.startWorker("host-1");
        cluster.startWorker("host-2");
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200
                && http.get("/api/v1/hosts").array().size() == 2);
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", "block").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("block")).toString())));
        assertEquals(201, r.status(), r.body());
        domainId = r.json().getString("id");
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void oneHostAtATimeAndALostSessionDetachesTheVolume() throws Exception {
        Http.Response created = http.post("/api/v1/domains/" + domainId + "/volumes",
                new JsonObject().put("name", "disk").put("virtualSize", 256L << 20).put("format", "qcow2"));
        assertEquals(202, created.status(), created.body());
        String volumeId = created.json().getString("volumeId");
        JsonObject volume = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json(),
                v -> "READY".equals(v.getString("status")));
        Path backingFile = Path.of(URI.create(volume.getString("uri")));

        JsonObject first = awaitTask(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-1")));
        assertEquals("SUCCEEDED", first.getString("status"), first.encode());
        assertTrue(loopDevicesOf(backingFile).startsWith("/dev/loop"), "host-1 attached a loop device");
        assertEquals("host-1", await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getJsonObject("lease"),
                l -> l != null).getString("host"));

        JsonObject refused = awaitTask(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-2")));
        assertEquals("FAILED", refused.getString("status"));
        assertEquals("LEASE_HELD", refused.getJsonObject("error").getString("code"), refused.encode());

        JsonObject teardown = awaitTask(http.post("/api/v1/volumes/" + volumeId + "/teardown", "{}"));
        assertEquals("SUCCEEDED", teardown.getString("status"), teardown.encode());
        assertEquals("", loopDevicesOf(backingFile), "teardown detached the loop device");
        JsonObject second = awaitTask(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-2")));
        assertEquals("SUCCEEDED", second.getString("status"), second.encode());

        long leaseEpoch = 0;
        for (var r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS)) {
            if (MessageCodec.standard().decode(r.value()) instanceof VolumePrepared p && p.getVolumeId().equals(volumeId)) {
                assertTrue(p.getLeaseEpoch() > leaseEpoch, "every new lease has a higher epoch");
                leaseEpoch = p.getLeaseEpoch();
            }
        }

        // ZooKeeper gone for longer than the session timeout: the session, and the lease, are lost.
        cluster.zooKeeper.stop();
        await().atMost(WAIT).until(() -> loopDevicesOf(backingFile).isEmpty());
        cluster.zooKeeper.start();
        VolumeLeaseLost lost = await().atMost(WAIT).until(() -> TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS).stream()
                .map(r -> decode(r.value())).filter(e -> e instanceof VolumeLeaseLost l && l.getVolumeId().equals(volumeId))
                .map(VolumeLeaseLost.class::cast).findFirst().orElse(null), e -> e != null);
        assertEquals("host-2", lost.getHostId());
        assertTrue(lost.getReason().contains("deactivated"), lost.getReason());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getValue("lease") == null);
    }

    /**
     * The manager checks that a volume is not prepared before it accepts a delete, but a prepare
     * may come between its check and the SPM's act: sent together, at most one of them may
     * succeed, and what is left says which (a volume still there and prepared, or gone with no lease).
     */
    @Test
    void aDeleteRacingAPrepareNeverDestroysAVolumeInUse() throws Exception {
        java.util.Map<String, Integer> outcomes = new java.util.TreeMap<>();
        for (int i = 0; i < 10; i++) {
            Http.Response created = http.post("/api/v1/domains/" + domainId + "/volumes",
                    new JsonObject().put("name", "race-" + i).put("virtualSize", 64L << 20).put("format", "qcow2"));
            String volumeId = created.json().getString("volumeId");
            await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json(), v -> "READY".equals(v.getString("status")));
            String host = "host-" + (i % 2 + 1);
            var delete = java.util.concurrent.CompletableFuture.supplyAsync(() -> outcome(http.delete("/api/v1/volumes/" + volumeId + "?purge=true")));
            var prepare = java.util.concurrent.CompletableFuture.supplyAsync(() -> outcome(
                    http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", host))));
            String deleted = delete.get();
            String prepared = prepare.get();
            outcomes.merge("delete " + deleted + ", prepare " + prepared, 1, Integer::sum);
            assertTrue(!deleted.equals("SUCCEEDED") || !prepared.equals("SUCCEEDED"), "both succeeded on volume " + volumeId);
            if (prepared.equals("SUCCEEDED")) {
                // The refused delete's task and the volume's state are separate topics the view reads apart: the state may come second.
                JsonObject volume = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json(),
                        v -> !"DELETING".equals(v.getString("status")));
                assertEquals(host, volume.getJsonObject("lease").getString("host"), volume.encode());
                assertEquals("READY", volume.getString("status"), volume.encode());
                assertEquals("SUCCEEDED", awaitTask(http.post("/api/v1/volumes/" + volumeId + "/teardown", new JsonObject())).getString("status"));
            } else {
                assertEquals("SUCCEEDED", deleted, "one of the two succeeds");
                assertEquals(404, http.get("/api/v1/volumes/" + volumeId).status());
                await().atMost(WAIT).until(() -> http.get("/api/v1/hosts").array().stream().map(JsonObject.class::cast)
                        .noneMatch(h -> h.getJsonArray("leases").stream().map(JsonObject.class::cast)
                                .anyMatch(l -> volumeId.equals(l.getString("volumeId")))));
            }
        }
        System.out.println("delete and prepare sent together, 10 times: " + outcomes);
    }

    /** SUCCEEDED, or how the request or its task failed. */
    private String outcome(Http.Response accepted) {
        if (accepted.status() != 202) {
            return "refused " + accepted.json().getString("code");
        }
        JsonObject task = awaitTask(accepted);
        return task.getString("status").equals("SUCCEEDED") ? "SUCCEEDED" : "failed " + task.getJsonObject("error").getString("code");
    }

    private JsonObject awaitTask(Http.Response accepted) {
        assertEquals(202, accepted.status(), accepted.body());
        String taskId = accepted.json().getString("taskId");
        return await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json(),
                t -> t.getString("status").equals("SUCCEEDED") || t.getString("status").equals("FAILED"));
    }

    private static Object decode(byte[] value) {
        try {
            return MessageCodec.standard().decode(value);
        } catch (Exception e) {
            return null;
        }
    }

    private static String loopDevicesOf(Path file) throws Exception {
        Process p = new ProcessBuilder("losetup", "--noheadings", "--output", "NAME", "--associated", file.toString()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor();
        return out;
    }
}
