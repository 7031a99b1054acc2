package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.assertError;
import static io.storagebus.system.VolumeSteps.created;
import static io.storagebus.system.VolumeSteps.dataOf;
import static io.storagebus.system.VolumeSteps.run;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.ResizeVolume;
import io.storagebus.schema.VolumeResized;
import io.storagebus.schema.VolumeState;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Growing a disk through the REST API, offline, against real storage: a qcow2 volume with a
 * snapshot in a file domain grows at its top and keeps its data; a raw volume on block storage
 * grows its allocation under the domain's capacity, and past it the task fails and nothing
 * changes; bad requests are refused with their field; and a resize the manager sent as offline
 * that reaches the SPM while a host has the volume prepared is refused there, where the act
 * happens. Live resizes: {@code LiveResizeIT}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VolumeResizeIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);

    private Cluster cluster;
    private Http http;
    private VolumeSteps steps;
    private Path files;
    private String fileDomain;
    private String blockDomain;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        steps = new VolumeSteps(http, cluster.kafka.bootstrapServers(), WAIT);
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        files = Files.createDirectories(dir.resolve("files"));
        fileDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "files").put("driver", "file")
                .put("properties", new JsonObject().put("path", files.toString()))));
        blockDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "blocks").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("blocks")).toString())
                        .put("capacity", "48M"))));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster);
    }

    @Test
    void aQcow2VolumeWithASnapshotGrowsAtItsTopAndKeepsItsData() throws Exception {
        String id = volume(fileDomain, "grows", 32 * MIB, "qcow2");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xa1 0 1M", top(id).toString());
        steps.snapshot(id, "before");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xb2 1M 1M", top(id).toString());

        JsonObject answer = accepted(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", 64 * MIB)));
        assertEquals(64 * MIB, answer.getLong("virtualSize"), answer.encode());
        steps.awaitTask(answer.getString("taskId"), "SUCCEEDED");
        JsonObject volume = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + id).json(), v -> v.getLong("virtualSize") == 64 * MIB);
        assertEquals("READY", volume.getString("status"), volume.encode());
        assertEquals(1, volume.getJsonArray("snapshots").size(), volume.encode());
        VolumeResized event = steps.events(VolumeResized.class).stream().filter(e -> e.getVolumeId().equals(id)).findFirst().orElseThrow();
        assertEquals(32 * MIB, event.getPreviousVirtualSize());
        assertEquals(64 * MIB, event.getVirtualSize());
        assertEquals(answer.getString("taskId"), event.getTaskId());

        Path top = top(id);
        assertTrue(VolumeSteps.output("qemu-img", "info", "--output=json", top.toString()).contains("\"virtual-size\": " + 64 * MIB));
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xc3 63M 1M", top.toString());
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0xa1 0 1M", top.toString());
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0xb2 1M 1M", top.toString());
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0 32M 31M", top.toString());
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0xc3 63M 1M", top.toString());
        run("qemu-img", "check", top.toString());

        JsonObject again = accepted(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", 64 * MIB)));
        steps.awaitTask(again.getString("taskId"), "SUCCEEDED");
        assertEquals(64 * MIB, http.get("/api/v1/volumes/" + id).json().getLong("virtualSize"), "the size it has is no change");
    }

    @Test
    void aRawBlockVolumeGrowsWithinTheDomainsCapacityAndNotPastIt() throws Exception {
        String id = volume(blockDomain, "raw-disk", 16 * MIB, "raw");
        JsonObject grown = accepted(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", 32 * MIB)));
        steps.awaitTask(grown.getString("taskId"), "SUCCEEDED");
        JsonObject volume = http.get("/api/v1/volumes/" + id).json();
        assertEquals(32 * MIB, volume.getLong("virtualSize"), volume.encode());
        assertTrue(Files.size(dataOf(volume)) >= 32 * MIB, "a raw block volume is all allocated: " + Files.size(dataOf(volume)));

        JsonObject tooBig = accepted(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", 96 * MIB)));
        steps.awaitTask(tooBig.getString("taskId"), "FAILED");
        JsonObject task = http.get("/api/v1/tasks/" + tooBig.getString("taskId")).json();
        assertEquals("NO_SPACE", task.getJsonObject("error").getString("code"), task.encode());
        volume = http.get("/api/v1/volumes/" + id).json();
        assertEquals("READY", volume.getString("status"), volume.encode());
        assertEquals(32 * MIB, volume.getLong("virtualSize"), "a refused resize changes nothing: " + volume.encode());
        assertTrue(Files.size(dataOf(volume)) < 96 * MIB, "nothing was allocated for it");
    }

    @Test
    void badRequestsAreRefusedWithTheirField() throws Exception {
        String id = volume(fileDomain, "stays", 8 * MIB, "raw");
        assertError(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", 4 * MIB)), 400, "SHRINK_REFUSED",
                "virtualSize");
        assertError(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", 8 * MIB + 1)), 400, "NOT_ALIGNED",
                "virtualSize");
        assertError(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", -1)), 400, "OUT_OF_RANGE", "virtualSize");
        assertError(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", "big")), 400, "INVALID_TYPE",
                "virtualSize");
        assertEquals(400, http.post("/api/v1/volumes/" + id + "/resize", new JsonObject()).status());
        assertEquals(404, http.post("/api/v1/volumes/" + UUID.randomUUID() + "/resize", new JsonObject().put("virtualSize", 16 * MIB)).status());

        assertEquals(8 * MIB, http.get("/api/v1/volumes/" + id).json().getLong("virtualSize"));
    }

    /** The manager's check raced by a prepare: the command reaches the SPM while host-1 holds the lease, and is refused there. */
    @Test
    void aResizeThatReachesTheSpmWhileAHostHasTheVolumeIsRefusedThere() throws Exception {
        String id = volume(fileDomain, "raced", 8 * MIB, "raw");
        steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/prepare", new JsonObject().put("hostId", "host-1"))).getString("taskId"),
                "SUCCEEDED");
        String taskId = UUID.randomUUID().toString();
        ResizeVolume command = ResizeVolume.newBuilder().setEnvelope(Envelopes.origin(Cluster.POOL, "manager:manager-1", taskId))
                .setTaskId(taskId).setVolumeId(id).setDomain(DomainRef.newBuilder().setId(fileDomain).setDriver("file")
                        .setProperties(Map.of("path", files.toString())).build())
                .setVolume(volumeState(id)).setVirtualSize(16 * MIB).build();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(KafkaConnection.plaintext(
                cluster.kafka.bootstrapServers())))) {
            producer.send(Records.of(Topics.spmCommands(Cluster.POOL), id, command)).get(20, TimeUnit.SECONDS);
        }
        await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).status() == 200); // the SPM's answer makes the task
        steps.awaitTask(taskId, "FAILED");
        JsonObject task = http.get("/api/v1/tasks/" + taskId).json();
        assertEquals("VOLUME_IN_USE", task.getJsonObject("error").getString("code"), task.encode());
        assertEquals(8 * MIB, Files.size(dataOf(http.get("/api/v1/volumes/" + id).json())), "the data file did not grow");
        steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/teardown", new JsonObject())).getString("taskId"), "SUCCEEDED");
    }

    private String volume(String domainId, String name, long size, String format) {
        JsonObject answer = accepted(http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", name)
                .put("virtualSize", size).put("format", format).put("allocation", "raw".equals(format) ? "preallocated" : "thin")));
        steps.awaitTask(answer.getString("taskId"), "SUCCEEDED");
        return answer.getString("volumeId");
    }

    private Path top(String id) {
        return dataOf(http.get("/api/v1/volumes/" + id).json());
    }

    private VolumeState volumeState(String id) throws Exception {
        List<VolumeState> states = new java.util.ArrayList<>();
        for (var r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.VOLUME_STATE)) {
            if (id.equals(r.key()) && r.value() != null) {
                states.add((VolumeState) MessageCodec.standard().decode(r.value()));
            }
        }
        return states.get(states.size() - 1);
    }
}
