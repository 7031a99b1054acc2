package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.created;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.manager.events.EventFilter;
import io.storagebus.manager.events.EventStream;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeFormat;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /api/v1/events} against a real Kafka, manager and worker: filtered events as they
 * happen, a client that reconnects with Last-Event-ID gets exactly what it missed (from the
 * stream's memory, or replayed from Kafka after the manager restarted), bad requests are refused
 * with the field, and a client that stops reading is cut off while another gets every event.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class EventStreamIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);

    private Cluster cluster;
    private Http http;
    private String domain;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        domain = created(http.post("/api/v1/domains", new JsonObject().put("name", "files").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("files")).toString()))));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster);
    }

    @Test
    void aClientGetsTheEventsItAskedForAndAfterReconnectingExactlyThoseItMissed() throws Exception {
        String created = "/api/v1/events?type=VolumeCreated&domain=" + domain;
        String one;
        String lastSeen;
        try (SseClient live = SseClient.connect(http.base() + created, Map.of())) {
            assertEquals(200, live.status);
            one = volume("one");
            await().atMost(WAIT).until(() -> volumeIds(live), ids -> ids.contains(one));
            assertEquals(List.of(one), volumeIds(live), "only VolumeCreated of the domain: " + live.events);
            SseClient.Event event = live.storageEvents().get(0);
            assertEquals("io.storagebus.schema.VolumeCreated", event.json().getString("type"));
            assertEquals(domain, event.event().getString("domainId"));
            assertEquals(Cluster.POOL, event.event().getJsonObject("envelope").getString("pool"));
            assertEquals(32 * MIB, event.event().getLong("virtualSize"));
            lastSeen = live.lastEventId();
        }
        String two = volume("two");
        String three = volume("three");
        try (SseClient resumed = SseClient.connect(http.base() + created, Map.of("Last-Event-ID", lastSeen))) {
            assertEquals(200, resumed.status);
            await().atMost(WAIT).until(() -> volumeIds(resumed), ids -> ids.size() >= 2);
            assertEquals(List.of(two, three), volumeIds(resumed), "what was missed, once, in order: " + resumed.events);
        }
    }

    @Test
    void aClientResumesFromKafkaWhatAManagerStartedSinceNeverSaw() throws Exception {
        String created = "/api/v1/events?type=VolumeCreated&domain=" + domain;
        String lastSeen;
        try (SseClient live = SseClient.connect(http.base() + created, Map.of())) {
            String four = volume("four");
            await().atMost(WAIT).until(() -> volumeIds(live), ids -> ids.contains(four));
            lastSeen = live.lastEventId();
        }
        String five = volume("five");
        cluster.manager.close();
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        try (SseClient resumed = SseClient.connect(http.base() + created, Map.of("Last-Event-ID", lastSeen))) {
            assertEquals(200, resumed.status);
            await().atMost(WAIT).until(() -> volumeIds(resumed), ids -> ids.contains(five));
            String six = volume("six");
            await().atMost(WAIT).until(() -> volumeIds(resumed), ids -> ids.contains(six));
            assertEquals(List.of(five, six), volumeIds(resumed), "replayed, then live, nothing twice: " + resumed.events);
        }
    }

    @Test
    void whatCannotBeFollowedIsRefusedWithTheField() throws Exception {
        assertRefused("/api/v1/events?type=VolumeCreated,NoSuchEvent", Map.of(), "type");
        assertRefused("/api/v1/events", Map.of("Last-Event-ID", "yesterday"), "Last-Event-ID");
        assertRefused("/api/v1/events", Map.of("Last-Event-ID", "0-12"), "Last-Event-ID");
        assertRefused("/api/v1/events?lastEventId=0-1.1-2.7-3", Map.of(), "lastEventId");
    }

    /**
     * A stream of its own with a ring of 4,096 events (of 1 KiB): a client that never reads fills
     * its connection, is cut off with TOO_SLOW once the ring moved past it, and meanwhile another
     * client gets all 30,000 events in order.
     */
    @Test
    void aClientThatStopsReadingIsCutOffAndNeverHoldsUpAnother() throws Exception {
        Vertx vertx = Vertx.vertx();
        EventStream stream = new EventStream(vertx, KafkaConnection.plaintext(cluster.kafka.bootstrapServers()), 4096);
        try {
            stream.start();
            stream.started().get(60, TimeUnit.SECONDS);
            HttpServer server = vertx.createHttpServer().requestHandler(r -> stream.follow(r, EventFilter.ALL, null))
                    .listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            try (Socket stalled = new Socket()) {
                stalled.setReceiveBufferSize(4096);
                stalled.connect(new InetSocketAddress("127.0.0.1", server.actualPort()));
                stalled.getOutputStream().write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                try (SseClient reader = SseClient.connect("http://127.0.0.1:" + server.actualPort() + "/", Map.of())) {
                    await().atMost(WAIT).until(() -> stream.clients() == 2);
                    int count = 30_000;
                    String filler = "x".repeat(1024);
                    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(cluster.kafka.bootstrapServers()))) {
                        for (int i = 0; i < count; i++) {
                            producer.send(new ProducerRecord<>(Topics.EVENTS, "flood", MessageCodec.standard().encode(flood(i, filler))));
                        }
                    }
                    await().atMost(WAIT).until(() -> stream.clients() == 1);
                    await().atMost(WAIT).until(() -> reader.storageEvents().size() >= count);
                    assertEquals(IntStream.range(0, count).mapToObj(i -> "flood-" + i).toList(),
                            reader.storageEvents().stream().map(e -> e.event().getString("name")).toList(), "every event, in order, once");
                    assertTrue(StorageBusMetrics.get().scrape().contains("storagebus_event_stream_drops_total{reason=\"TOO_SLOW\"}"));
                }
                // The stalled client, reading at last, finds its connection closed by the server.
                stalled.setSoTimeout((int) WAIT.toMillis());
                InputStream in = stalled.getInputStream();
                byte[] buffer = new byte[1 << 16];
                try {
                    while (in.read(buffer) >= 0) {
                        // drained to the end
                    }
                } catch (java.net.SocketException reset) {
                    // closed by a reset: as good an end
                }
            }
            server.close();
        } finally {
            stream.close();
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    private static VolumeCreated flood(int i, String filler) {
        return VolumeCreated.newBuilder().setEnvelope(Envelopes.origin(Cluster.POOL, "manager:flood", "flood-" + i))
                .setTaskId("flood-" + i).setVolumeId("flood-" + i).setDomainId("flood").setName("flood-" + i).setVirtualSize(1)
                .setFormat(VolumeFormat.RAW).setAllocation(Allocation.THIN).setUri("file:///" + filler).setHostId("flood").build();
    }

    private void assertRefused(String path, Map<String, String> headers, String field) throws Exception {
        SseClient refused = SseClient.connect(http.base() + path, headers);
        assertEquals(400, refused.status, refused.errorBody);
        JsonObject error = new JsonObject(refused.errorBody);
        assertEquals("INVALID_VALUE", error.getString("code"), refused.errorBody);
        assertEquals(field, error.getString("field"), refused.errorBody);
    }

    private static List<String> volumeIds(SseClient client) {
        return client.storageEvents().stream().map(e -> e.event().getString("volumeId")).toList();
    }

    private String volume(String name) {
        JsonObject answer = accepted(http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", name)
                .put("virtualSize", 32 * MIB).put("format", "raw")));
        new VolumeSteps(http, cluster.kafka.bootstrapServers(), WAIT).awaitTask(answer.getString("taskId"), "SUCCEEDED");
        return answer.getString("volumeId");
    }
}
