package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.Stream;

import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.worker.HostWorker;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The volume lifecycle end to end: REST -> Kafka -> elected SPM worker -> file driver -> event
 * -> state topic -> REST. Subclasses choose the Kafka fixture; the tests are the same.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class VolumeLifecycleContract {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final long GIB = 1L << 30;

    Path tmp;

    Cluster cluster;
    Http http;

    abstract KafkaFixture kafka(Path dir);

    @BeforeAll
    void startCluster(@TempDir Path dir) throws Exception {
        tmp = dir;
        cluster = new Cluster(kafka(tmp.resolve("kafka")), tmp);
        cluster.startWorker("host-1");
        cluster.startWorker("host-2");
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
    }

    @AfterAll
    void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void createsAReadyQcow2VolumeThatQemuImgAccepts() throws Exception {
        String domainId = createDomain("lifecycle");
        JsonObject accepted = createVolume(domainId, "v1", GIB, "qcow2");

        JsonObject volume = awaitVolume(accepted.getString("volumeId"), "READY");
        assertEquals("v1", volume.getString("name"));
        assertEquals(GIB, volume.getLong("virtualSize"));
        Path file = Path.of(java.net.URI.create(volume.getString("uri")));
        String info = run("qemu-img", "info", "--output=json", file.toString());
        assertTrue(info.contains("\"format\": \"qcow2\"") && info.contains("\"virtual-size\": " + GIB), info);

        JsonObject task = http.get("/api/v1/tasks/" + accepted.getString("taskId")).json();
        assertEquals("SUCCEEDED", task.getString("status"));

        VolumeCreated event = volumeCreatedEvents().get(accepted.getString("volumeId")).get(0);
        assertEquals(accepted.getString("taskId"), event.getEnvelope().getCorrelationId());
        assertNotNull(event.getEnvelope().getSpmEpoch(), "events of the SPM carry its epoch");
    }

    @Test
    void spmHandOverLosesNothingAndCreatesNothingTwice() throws Exception {
        String domainId = createDomain("handover");
        HostWorker spm = await().atMost(WAIT).until(() -> cluster.spm().orElse(null), w -> w != null);
        long oldEpoch = spm.spmTerm().orElseThrow().epoch();

        List<String> volumeIds = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            volumeIds.add(createVolume(domainId, "before-" + i, 1 << 20, "qcow2").getString("volumeId"));
        }
        // Stop the SPM with commands in flight; the other worker must take over.
        spm.close();
        cluster.workers.remove(spm);
        for (int i = 0; i < 5; i++) {
            volumeIds.add(createVolume(domainId, "after-" + i, 1 << 20, "raw").getString("volumeId"));
        }
        HostWorker next = await().atMost(WAIT).until(() -> cluster.spm().orElse(null), w -> w != null);
        assertTrue(next.spmTerm().orElseThrow().epoch() > oldEpoch, "a new term must have a higher epoch");
        for (String id : volumeIds) {
            awaitVolume(id, "READY");
        }

        Map<String, List<VolumeCreated>> events = volumeCreatedEvents();
        for (String id : volumeIds) {
            assertEquals(1, events.getOrDefault(id, List.of()).size(), "exactly one VolumeCreated for " + id);
        }
        try (Stream<Path> files = Files.list(tmp.resolve("domains/handover/volumes"))) {
            assertEquals(volumeIds.size(), files.filter(p -> !p.toString().endsWith(".json")).count(), "one data file per volume");
        }
        cluster.startWorker("host-3");
    }

    @Test
    void restartedManagerRebuildsItsStateFromKafka() throws Exception {
        String domainId = createDomain("restart");
        String volumeId = createVolume(domainId, "kept", GIB, "qcow2").getString("volumeId");
        awaitVolume(volumeId, "READY");

        cluster.manager.close();
        http = new Http(cluster.startManager().baseUrl());

        assertEquals("restart", http.get("/api/v1/domains/" + domainId).json().getString("name"));
        assertEquals("READY", http.get("/api/v1/volumes/" + volumeId).json().getString("status"));
        assertTrue(http.get("/api/v1/domains").array().stream()
                .anyMatch(d -> ((JsonObject) d).getString("id").equals(domainId)));
        // The rebuilt manager still refuses a duplicate name it only knows from Kafka.
        assertEquals(409, http.post("/api/v1/domains/" + domainId + "/volumes",
                new JsonObject().put("name", "kept").put("virtualSize", GIB)).status());
    }

    @Test
    void undecodableCommandGoesToTheDeadLetterTopicAndTheWorkerGoesOn() throws Exception {
        String domainId = createDomain("deadletter");
        String key = "garbage-" + UUID.randomUUID();
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.kafka.bootstrapServers());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>(Topics.spmCommands(Cluster.POOL), key, "{\"not\":\"avro\"}".getBytes(StandardCharsets.UTF_8))).get();
        }

        ConsumerRecord<String, byte[]> dead = await().atMost(WAIT).until(
                () -> TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.DEAD_LETTER).stream()
                        .filter(r -> key.equals(r.key())).findFirst().orElse(null), r -> r != null);
        assertEquals("{\"not\":\"avro\"}", new String(dead.value(), StandardCharsets.UTF_8), "the original bytes are kept");
        String reason = new String(dead.headers().lastHeader("sb-dlq-reason").value(), StandardCharsets.UTF_8);
        assertTrue(reason.contains("not Avro single-object encoded"), reason);
        assertTrue(new String(dead.headers().lastHeader("sb-dlq-source").value(), StandardCharsets.UTF_8)
                .startsWith(Topics.spmCommands(Cluster.POOL)));

        awaitVolume(createVolume(domainId, "after-garbage", GIB, "qcow2").getString("volumeId"), "READY");
    }

    @Test
    void spmAndHostsAreVisibleAndTheRoleIsHandedOverCleanly() throws Exception {
        HostWorker spm = await().atMost(WAIT).until(() -> cluster.spm().orElse(null), w -> w != null);
        JsonObject term = await().atMost(WAIT).until(() -> http.get("/api/v1/pools/default/spm"), r -> r.status() == 200).json();
        assertEquals(spm.hostId(), term.getString("host"));
        assertEquals(spm.spmTerm().orElseThrow().epoch(), term.getLong("epoch"));

        var hosts = await().atMost(WAIT).until(() -> http.get("/api/v1/hosts").array(), a -> a.size() == cluster.workers.size());
        assertEquals(1, hosts.stream().map(JsonObject.class::cast).filter(h -> h.getValue("spm") != null).count(), hosts.encode());

        Http.Response released = http.post("/api/v1/pools/default/spm/release", "");
        assertEquals(200, released.status(), released.body());
        JsonObject next = released.json().getJsonObject("spm");
        assertTrue(next.getLong("epoch") > term.getLong("epoch"), released.body());
        assertTrue(!next.getString("host").equals(term.getString("host")), "another host takes over: " + released.body());
        System.out.println("clean SPM hand-over took " + released.json().getLong("handOverMillis") + " ms");

        String domainId = createDomain("after-release");
        awaitVolume(createVolume(domainId, "v", MIB_FOR_TESTS, "raw").getString("volumeId"), "READY");
        assertEquals(404, http.get("/api/v1/pools/no-such-pool/spm").status());
        assertEquals("NO_SPM", http.get("/api/v1/pools/no-such-pool/spm").json().getString("code"));
    }

    private static final long MIB_FOR_TESTS = 1 << 20;

    String createDomain(String name) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("domains").resolve(name));
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", name).put("driver", "file")
                .put("properties", new JsonObject().put("path", dir.toString())));
        assertEquals(201, r.status(), r.body());
        return r.json().getString("id");
    }

    JsonObject createVolume(String domainId, String name, long size, String format) {
        Http.Response r = http.post("/api/v1/domains/" + domainId + "/volumes",
                new JsonObject().put("name", name).put("virtualSize", size).put("format", format));
        assertEquals(202, r.status(), r.body());
        return r.json();
    }

    JsonObject awaitVolume(String volumeId, String status) {
        return await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json(),
                v -> status.equals(v.getString("status")));
    }

    Map<String, List<VolumeCreated>> volumeCreatedEvents() throws Exception {
        Map<String, List<VolumeCreated>> byVolume = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS)) {
            SpecificRecord event = MessageCodec.standard().decode(r.value());
            if (event instanceof VolumeCreated created) {
                byVolume.computeIfAbsent(created.getVolumeId(), k -> new ArrayList<>()).add(created);
            }
        }
        return byVolume;
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }
}
