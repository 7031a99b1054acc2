package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.manager.maintenance.MaintenanceCoordinator;
import io.storagebus.schema.MaintenanceAborted;
import io.storagebus.schema.MaintenanceCancelled;
import io.storagebus.schema.MaintenanceCompleted;
import io.storagebus.schema.MaintenanceDraining;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.MaintenanceVote;
import io.storagebus.schema.MaintenanceVoteCounted;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.SubscriberHeartbeat;
import io.storagebus.schema.VolumeTornDown;
import io.storagebus.schema.VoteDecision;
import io.storagebus.subscriber.MaintenanceVoter;
import io.storagebus.subscriber.StorageSubscriber;
import io.storagebus.subscriber.Vote;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Maintenance with veto on real Kafka and ZooKeeper, with two host workers (who vote too) and
 * external subscribers built on the subscriber library: veto, consent down to MAINTENANCE with
 * the hosts disconnected and loop devices gone, silence under both policies, cancel, one request
 * at a time, a manager restarted mid-vote, stray votes, StorageBus's own veto, and volume
 * operations refused on a domain in maintenance.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MaintenanceIT {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Set<String> HOSTS = Set.of("host:host-1", "host:host-2");

    private Cluster cluster;
    private Http http;
    private Path tmp;
    private final List<StorageSubscriber> subscribers = new ArrayList<>();

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        this.tmp = tmp;
        cluster = new Cluster(new InProcessKafka(tmp.resolve("kafka")), tmp);
        cluster.startWorker("host-1");
        cluster.startWorker("host-2");
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        awaitAliveSubscribers(HOSTS);
    }

    @AfterEach
    void unregisterSubscribers() {
        subscribers.forEach(s -> {
            s.unregister().join();
            s.close();
        });
        subscribers.clear();
        awaitAliveSubscribers(HOSTS);
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void aVetoAbortsTheRequestWithItsReason() throws Exception {
        String domainId = domain("vetoed", "default");
        subscriber("billing", SilencePolicy.CONSENT, r -> Vote.veto("invoice run until 02:00"));
        subscriber("backup", SilencePolicy.CONSENT, r -> Vote.consent());

        JsonObject requested = requestMaintenance(domainId, "replace the array controller", 60);
        assertEquals("VOTING", requested.getString("status"));
        assertTrue(voterIds(requested).containsAll(Set.of("billing", "backup", "host:host-1", "host:host-2", "storagebus")), requested.encode());

        JsonObject aborted = awaitMaintenance(domainId, "ABORTED");
        JsonObject billing = voter(aborted, "billing");
        assertEquals("VETO", billing.getString("vote"));
        assertEquals("invoice run until 02:00", billing.getString("reason"));
        MaintenanceAborted event = awaitEvent(MaintenanceAborted.class, e -> e.getDomainId().equals(domainId));
        assertTrue(event.getVetoes().stream().anyMatch(v -> v.getSubscriberId().equals("billing")
                && v.getReason().equals("invoice run until 02:00") && !v.getSilent()), event.toString());
        assertEquals("ACTIVE", domainStatus(domainId));
    }

    @Test
    void unanimousConsentEndsInMaintenanceWithNoHostConnected() throws Exception {
        String domainId = domain("retired", "default");
        String volumeId = readyVolume(domainId, "disk");
        JsonObject volume = http.get("/api/v1/volumes/" + volumeId).json();
        Path backingFile = Path.of(URI.create(volume.getString("uri")));
        assertEquals("SUCCEEDED", awaitTask(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-1")))
                .getString("status"));
        assertFalse(loopDevicesOf(backingFile).isEmpty(), "host-1 uses the volume");
        subscriber("scheduler", SilencePolicy.VETO, r -> Vote.consent());

        String requestId = requestMaintenance(domainId, "firmware upgrade", 60).getString("requestId");

        JsonObject completed = awaitMaintenance(domainId, "COMPLETED");
        assertEquals(new JsonArray().add("host-1").add("host-2"), completed.getJsonArray("hostsDisconnected"), completed.encode());
        assertEquals(new JsonArray(), completed.getJsonArray("hostsPending"));
        assertTrue(completed.getJsonArray("voters").stream().map(JsonObject.class::cast)
                .allMatch(v -> "CONSENT".equals(v.getString("vote"))), completed.encode());
        // Read your writes: once the request reads COMPLETED, the domain reads MAINTENANCE (another topic).
        assertEquals("MAINTENANCE", domainStatus(domainId));
        assertEquals("", loopDevicesOf(backingFile), "no host uses the domain: the loop device is gone");
        await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getValue("lease") == null);
        VolumeTornDown tornDown = awaitEvent(VolumeTornDown.class, e -> e.getVolumeId().equals(volumeId));
        assertEquals(requestId, tornDown.getTaskId());
        MaintenanceCompleted done = awaitEvent(MaintenanceCompleted.class, e -> e.getDomainId().equals(domainId));
        assertEquals(List.of("host-1", "host-2"), done.getHosts());
        // Each vote was on the event stream as it counted, not only in the decision.
        MaintenanceVoteCounted scheduler = awaitEvent(MaintenanceVoteCounted.class,
                e -> e.getRequestId().equals(requestId) && e.getVote().getSubscriberId().equals("scheduler"));
        assertEquals(VoteDecision.CONSENT, scheduler.getVote().getDecision());
        assertEquals(domainId, scheduler.getDomainId());
        for (String host : HOSTS) {
            awaitEvent(MaintenanceVoteCounted.class, e -> e.getRequestId().equals(requestId) && e.getVote().getSubscriberId().equals(host));
        }

        // Volume operations on a domain in maintenance are refused, clearly.
        Http.Response create = http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", "new").put("virtualSize", 1 << 20));
        assertError(create, 409, "DOMAIN_IN_MAINTENANCE");
        assertTrue(create.json().getString("message").contains("/activate"), create.body());
        assertError(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-2")), 409, "DOMAIN_IN_MAINTENANCE");
        String other = domain("other", "default");
        String otherVolume = readyVolume(other, "source");
        Http.Response copy = http.post("/api/v1/volumes/" + otherVolume + "/copy", new JsonObject().put("targetDomainId", domainId).put("name", "c"));
        assertError(copy, 409, "DOMAIN_IN_MAINTENANCE");
        assertEquals("targetDomainId", copy.json().getString("field"));
        Http.Response move = http.post("/api/v1/volumes/" + otherVolume + "/move", new JsonObject().put("targetDomainId", domainId));
        assertError(move, 409, "DOMAIN_IN_MAINTENANCE");
        assertEquals("targetDomainId", move.json().getString("field"));
        assertError(http.post("/api/v1/domains/" + domainId + "/maintenance", new JsonObject().put("reason", "again")), 409, "DOMAIN_IN_MAINTENANCE");

        // Activate: out of maintenance, usable again; a second activate has nothing to do.
        Http.Response activated = http.post("/api/v1/domains/" + domainId + "/activate", "{}");
        assertEquals(200, activated.status(), activated.body());
        assertEquals("ACTIVE", activated.json().getString("status"));
        // The next request after the answer sees the domain active, as the README's walkthrough does.
        assertEquals("ACTIVE", domainStatus(domainId));
        assertEquals("ENDED", http.get("/api/v1/domains/" + domainId + "/maintenance").json().getString("status"));
        assertEquals(202, http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", "new").put("virtualSize", 1 << 20)).status());
        assertError(http.post("/api/v1/domains/" + domainId + "/activate", "{}"), 409, "NOT_IN_MAINTENANCE");
    }

    @Test
    void silenceCountsAsConsentOrVetoAsEachSubscriberSaid() throws Exception {
        String consenting = domain("quiet-yes", "default");
        StorageSubscriber quiet = subscriber("quiet-consent", SilencePolicy.CONSENT, r -> null);
        requestMaintenance(consenting, "short vote", 2);
        JsonObject completed = awaitMaintenance(consenting, "COMPLETED");
        assertEquals("CONSENT", voter(completed, "quiet-consent").getString("vote"));
        assertTrue(voter(completed, "quiet-consent").getBoolean("silent"), completed.encode());
        quiet.unregister().join();
        awaitAliveSubscribers(with("quiet-consent", false));

        String vetoing = domain("quiet-no", "default");
        subscriber("quiet-veto", SilencePolicy.VETO, r -> null);
        requestMaintenance(vetoing, "short vote", 2);
        JsonObject aborted = awaitMaintenance(vetoing, "ABORTED");
        assertEquals("VETO", voter(aborted, "quiet-veto").getString("vote"));
        assertTrue(voter(aborted, "quiet-veto").getBoolean("silent"), aborted.encode());
        assertEquals("ACTIVE", domainStatus(vetoing));
    }

    @Test
    void aRequestCanBeCancelledBeforeItsDecisionAndThereIsOneAtATime() throws Exception {
        String domainId = domain("cancelled", "default");
        List<MaintenanceRequested> seen = new CopyOnWriteArrayList<>();
        StorageSubscriber slow = subscriber("slow", SilencePolicy.VETO, r -> {
            seen.add(r);
            return null;
        });
        requestMaintenance(domainId, "maybe later", 600);
        JsonObject voting = http.get("/api/v1/domains/" + domainId + "/maintenance").json();
        assertTrue(voting.getJsonArray("silent").contains("slow"), voting.encode());

        assertError(http.post("/api/v1/domains/" + domainId + "/maintenance", new JsonObject().put("reason", "twice")), 409, "MAINTENANCE_IN_PROGRESS");

        Http.Response cancelled = http.delete("/api/v1/domains/" + domainId + "/maintenance");
        assertEquals(200, cancelled.status(), cancelled.body());
        assertEquals("CANCELLED", cancelled.json().getString("status"));
        awaitEvent(MaintenanceCancelled.class, e -> e.getDomainId().equals(domainId));
        assertError(http.delete("/api/v1/domains/" + domainId + "/maintenance"), 404, "NO_MAINTENANCE_REQUEST");
        assertEquals("ACTIVE", domainStatus(domainId));

        // A vote that comes after the cancel changes nothing.
        await().atMost(WAIT).until(() -> !seen.isEmpty());
        slow.vote(seen.get(0), Vote.veto("too late")).join();
        JsonObject after = http.get("/api/v1/domains/" + domainId + "/maintenance").json();
        assertEquals("CANCELLED", after.getString("status"));
        assertFalse(voter(after, "slow").containsKey("vote"), after.encode());
        assertFalse(after.getJsonArray("silent").contains("slow"), "silence is a pending vote, not one that came too late: " + after.encode());
        assertTrue(after.getJsonArray("notCounted").contains("slow"), after.encode());
    }

    @Test
    void aManagerRestartedMidVoteCountsTheVotesCastMeanwhile() throws Exception {
        String domainId = domain("restarted", "default");
        List<MaintenanceRequested> seen = new CopyOnWriteArrayList<>();
        StorageSubscriber ops = subscriber("ops", SilencePolicy.VETO, r -> {
            seen.add(r);
            return null;
        });
        requestMaintenance(domainId, "across a manager restart", 600);
        await().atMost(WAIT).until(() -> !seen.isEmpty());

        cluster.manager.close();
        ops.vote(seen.get(0), Vote.consent()).join();
        http = new Http(cluster.startManager().baseUrl());

        JsonObject completed = awaitMaintenance(domainId, "COMPLETED");
        JsonObject vote = voter(completed, "ops");
        assertEquals("CONSENT", vote.getString("vote"));
        assertFalse(vote.getBoolean("silent"), "the vote cast while no manager ran was counted, not its silence");
        await().atMost(WAIT).until(() -> domainStatus(domainId), "MAINTENANCE"::equals);
    }

    @Test
    void votesForUnknownOrClosedRequestsAndGarbageAreIgnoredAndReported() throws Exception {
        Logger log = (Logger) LoggerFactory.getLogger(MaintenanceCoordinator.class);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        log.addAppender(logged);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(cluster.kafka.bootstrapServers()))) {
            producer.send(new ProducerRecord<>(Topics.MAINTENANCE, "garbage", "not avro".getBytes(StandardCharsets.UTF_8))).get();
            ConsumerRecord<String, byte[]> dead = await().atMost(WAIT).until(() -> TopicReader.readAll(cluster.kafka.bootstrapServers(),
                    Topics.DEAD_LETTER).stream().filter(r -> "garbage".equals(r.key())).findFirst().orElse(null), r -> r != null);
            assertTrue(new String(dead.headers().lastHeader(Records.DLQ_SOURCE).value(), StandardCharsets.UTF_8).startsWith(Topics.MAINTENANCE));
            assertTrue(new String(dead.headers().lastHeader(Records.DLQ_BY).value(), StandardCharsets.UTF_8).startsWith("manager:"));

            // Read after the garbage: the manager goes on reading votes.
            String unknown = UUID.randomUUID().toString();
            producer.send(Records.of(Topics.MAINTENANCE, unknown, MaintenanceVote.newBuilder()
                    .setEnvelope(Envelopes.origin("default", "subscriber:stray", unknown)).setRequestId(unknown).setDomainId("nowhere")
                    .setSubscriberId("stray").setDecision(VoteDecision.VETO).setReason("who asked?").build())).get();
            await().atMost(WAIT).until(() -> logged.list.stream().anyMatch(e -> e.getFormattedMessage().contains(unknown)
                    && e.getFormattedMessage().contains("ignored")));
        } finally {
            log.detachAppender(logged);
        }
    }

    /** A subscriber cannot read the dead-letter topic: the operator sees why its heartbeat was refused, until a good one comes. */
    @Test
    void aRefusedHeartbeatIsListedWithItsReason() throws Exception {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(cluster.kafka.bootstrapServers()))) {
            producer.send(Records.of(Topics.SUBSCRIBERS, "too-fast", heartbeat("too-fast", 50))).get();
            JsonObject refused = await().atMost(WAIT).until(() -> subscriberEntry("too-fast"), e -> e != null && e.containsKey("refused"));
            assertTrue(refused.getString("refused").contains("heartbeatIntervalMs must be within 100..3600000, got 50"), refused.encode());
            assertFalse(refused.getBoolean("alive"));

            producer.send(Records.of(Topics.SUBSCRIBERS, "too-fast", heartbeat("too-fast", 1000))).get();
            await().atMost(WAIT).until(() -> subscriberEntry("too-fast"), e -> e != null && !e.containsKey("refused") && e.getBoolean("alive"));
            producer.send(new ProducerRecord<>(Topics.SUBSCRIBERS, "too-fast", null)).get();
            await().atMost(WAIT).until(() -> subscriberEntry("too-fast") == null);
        }
    }

    private static SubscriberHeartbeat heartbeat(String id, long intervalMs) {
        return SubscriberHeartbeat.newBuilder().setEnvelope(Envelopes.origin("default", "subscriber:" + id, id)).setSubscriberId(id)
                .setDescription("a subscriber in a hurry").setSilence(SilencePolicy.CONSENT).setHeartbeatIntervalMs(intervalMs).build();
    }

    private JsonObject subscriberEntry(String id) {
        return http.get("/api/v1/subscribers").array().stream().map(JsonObject.class::cast)
                .filter(e -> id.equals(e.getString("id"))).findFirst().orElse(null);
    }

    @Test
    void storageBusVetoesWhileTasksRunOnTheDomain() throws Exception {
        // A host of the pool checks the domain's storage, then leaves: a pool without hosts has no
        // SPM, so the create below stays PENDING, a task that runs.
        String domainId;
        try (io.storagebus.worker.HostWorker idle = new io.storagebus.worker.HostWorker(io.storagebus.worker.WorkerConfig.of("host-idle",
                "idle", cluster.kafka.bootstrapServers(), cluster.zooKeeper.connectString())).start()) {
            domainId = domain("busy", "idle");
        }
        awaitAliveSubscribers(with("host:host-idle", false));
        Http.Response created = http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", "waiting").put("virtualSize", 1 << 20));
        assertEquals(202, created.status(), created.body());

        requestMaintenance(domainId, "while a create is pending", 60);
        JsonObject aborted = awaitMaintenance(domainId, "ABORTED");
        JsonObject self = voter(aborted, "storagebus");
        assertEquals("VETO", self.getString("vote"));
        assertTrue(self.getString("reason").contains(created.json().getString("taskId")), aborted.encode());
    }

    /**
     * A subscriber written from docs/EVENTS.md and the released .avsc files only: generic Avro,
     * the single-object header by hand, fingerprints read from the table in the docs, plain Kafka
     * clients. It registers, reads the request and vetoes, and the manager counts its veto.
     */
    @Test
    void aSubscriberBuiltFromTheDocsAndSchemaFilesAloneTakesPart() throws Exception {
        String domainId = domain("foreign", "default");
        try (ForeignSubscriber foreign = new ForeignSubscriber(cluster.kafka.bootstrapServers(), "foreign-billing")) {
            foreign.register();
            awaitAliveSubscribers(with("foreign-billing", true));
            requestMaintenance(domainId, "asked of a foreign service", 60);
            GenericRecord request = foreign.awaitRequest(domainId);
            foreign.vote(request, "VETO", "the foreign service says no");
            JsonObject aborted = awaitMaintenance(domainId, "ABORTED");
            assertEquals("the foreign service says no", voter(aborted, "foreign-billing").getString("reason"));
        }
        awaitAliveSubscribers(HOSTS);
    }

    /** What a service in any language does, spelled out with generic Avro and raw bytes. */
    private static final class ForeignSubscriber implements AutoCloseable {
        private static final Path HISTORY = Path.of("..", "schemas", "src", "main", "resources", "io", "storagebus", "schema", "history");
        private final String id;
        private final Map<String, Long> fingerprints = new HashMap<>();
        private final KafkaProducer<String, byte[]> producer;
        private final KafkaConsumer<String, byte[]> consumer;

        ForeignSubscriber(String bootstrapServers, String id) throws Exception {
            this.id = id;
            // The fingerprint table of docs/EVENTS.md: | `io.storagebus.schema.Type` | vN | `hex` |
            Matcher row = Pattern.compile("\\| `io\\.storagebus\\.schema\\.(\\w+)` \\| (v\\d+) \\| `([0-9a-f]{16})` \\|")
                    .matcher(Files.readString(Path.of("..", "docs", "EVENTS.md")));
            while (row.find()) {
                fingerprints.put(row.group(1) + "/" + row.group(2), Long.parseUnsignedLong(row.group(3), 16));
            }
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrapServers);
            producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
            Properties c = new Properties();
            c.put("bootstrap.servers", bootstrapServers);
            c.put("isolation.level", "read_committed");
            consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
            List<TopicPartition> partitions = consumer.partitionsFor("storagebus.events").stream()
                    .map(i -> new TopicPartition(i.topic(), i.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            partitions.forEach(consumer::position);
        }

        void register() throws Exception {
            Schema schema = schema("SubscriberHeartbeat");
            GenericRecord beat = new GenericData.Record(schema);
            beat.put("envelope", envelope(schema, "*", id));
            beat.put("subscriberId", id);
            beat.put("description", "a billing service that knows no Java");
            beat.put("silence", new GenericData.EnumSymbol(schema.getField("silence").schema(), "VETO"));
            beat.put("heartbeatIntervalMs", 60_000L);
            send("storagebus.subscribers", id, "SubscriberHeartbeat", beat);
        }

        /** The request, read with the schema version its fingerprint names (the docs' table), whichever it is. */
        GenericRecord awaitRequest(String domainId) {
            return await().atMost(WAIT).until(() -> {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    ByteBuffer value = ByteBuffer.wrap(r.value()).order(ByteOrder.LITTLE_ENDIAN);
                    if (value.get() != (byte) 0xC3 || value.get() != 0x01) {
                        continue;
                    }
                    long fingerprint = value.getLong();
                    String version = fingerprints.entrySet().stream().filter(e -> e.getValue() == fingerprint
                            && e.getKey().startsWith("MaintenanceRequested/")).map(e -> e.getKey().substring(e.getKey().indexOf('/') + 1))
                            .findFirst().orElse(null);
                    if (version != null) {
                        GenericRecord request = new GenericDatumReader<GenericRecord>(schema("MaintenanceRequested", version))
                                .read(null, DecoderFactory.get().binaryDecoder(r.value(), 10, r.value().length - 10, null));
                        if (request.get("domainId").toString().equals(domainId)) {
                            return request;
                        }
                    }
                }
                return null;
            }, r -> r != null);
        }

        void vote(GenericRecord request, String decision, String reason) throws Exception {
            Schema schema = schema("MaintenanceVote");
            String requestId = request.get("requestId").toString();
            GenericRecord vote = new GenericData.Record(schema);
            vote.put("envelope", envelope(schema, ((GenericRecord) request.get("envelope")).get("pool").toString(), requestId));
            vote.put("requestId", requestId);
            vote.put("domainId", request.get("domainId").toString());
            vote.put("subscriberId", id);
            vote.put("decision", new GenericData.EnumSymbol(schema.getField("decision").schema(), decision));
            vote.put("reason", reason);
            send("storagebus.maintenance", requestId, "MaintenanceVote", vote);
        }

        private GenericRecord envelope(Schema schema, String pool, String correlationId) {
            GenericRecord envelope = new GenericData.Record(schema.getField("envelope").schema());
            envelope.put("id", UUID.randomUUID().toString());
            envelope.put("correlationId", correlationId);
            envelope.put("pool", pool);
            envelope.put("issuer", "subscriber:" + id);
            envelope.put("timestamp", System.currentTimeMillis());
            return envelope;
        }

        private void send(String topic, String key, String type, GenericRecord record) throws Exception {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            bytes.write(new byte[] {(byte) 0xC3, 0x01});
            bytes.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(fingerprints.get(type + "/v1")).array());
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
            new GenericDatumWriter<GenericRecord>(record.getSchema()).write(record, encoder);
            encoder.flush();
            ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, bytes.toByteArray());
            r.headers().add("sb-type", ("io.storagebus.schema." + type).getBytes(StandardCharsets.UTF_8));
            producer.send(r).get();
        }

        private static Schema schema(String type) throws Exception {
            return schema(type, "v1");
        }

        private static Schema schema(String type, String version) throws Exception {
            return new Schema.Parser().parse(HISTORY.resolve(type).resolve(version + ".avsc").toFile());
        }

        /** Leaves: a tombstone for its key. */
        @Override
        public void close() throws Exception {
            producer.send(new ProducerRecord<>("storagebus.subscribers", id, null)).get();
            producer.close();
            consumer.close();
        }
    }

    /**
     * A drain: the vote passes, every volume of the domain (one with a snapshot) moves to the
     * target, then the hosts let the domain go and it is in maintenance, empty.
     */
    @Test
    void aDrainMovesEveryVolumeAwayBeforeTheDomainGoesIntoMaintenance() throws Exception {
        String source = domain("draining", "default");
        String target = domain("drain-target", "default");
        String plain = readyVolume(source, "drained-plain");
        String chained = readyVolume(source, "drained-chained");
        assertEquals("SUCCEEDED", awaitTask(http.post("/api/v1/volumes/" + chained + "/snapshots", new JsonObject().put("name", "s1")))
                .getString("status"));

        Http.Response r = http.post("/api/v1/domains/" + source + "/maintenance", new JsonObject().put("reason", "retire the array")
                .put("deadlineSeconds", 60).put("drain", new JsonObject().put("targetDomainId", target)));
        assertEquals(202, r.status(), r.body());
        assertEquals(target, r.json().getJsonObject("drain").getString("targetDomainId"));
        JsonObject done = awaitMaintenance(source, "COMPLETED");
        JsonObject drain = done.getJsonObject("drain");
        assertEquals(2, drain.getInteger("moved"), done.encode());
        assertEquals(2, drain.getInteger("total"), done.encode());
        assertTrue(drain.getJsonArray("moves").stream().map(JsonObject.class::cast).allMatch(m -> "SUCCEEDED".equals(m.getString("status"))),
                done.encode());
        assertEquals("MAINTENANCE", domainStatus(source));
        for (String volumeId : List.of(plain, chained)) {
            JsonObject volume = http.get("/api/v1/volumes/" + volumeId).json();
            assertEquals(target, volume.getString("domainId"), volume.encode());
            assertEquals("READY", volume.getString("status"), volume.encode());
        }
        assertEquals(1, http.get("/api/v1/volumes/" + chained + "/snapshots").array().size());
        assertEquals(0, http.get("/api/v1/domains/" + source + "/volumes").array().size());
        MaintenanceDraining draining = awaitEvent(MaintenanceDraining.class, e -> e.getRequestId().equals(r.json().getString("requestId")));
        assertEquals(target, draining.getTargetDomainId());
        assertEquals(Set.of(plain, chained), draining.getMoves().stream().map(m -> m.getVolumeId()).collect(Collectors.toSet()));
        awaitEvent(MaintenanceCompleted.class, e -> e.getRequestId().equals(r.json().getString("requestId")));
        assertEquals(200, http.post("/api/v1/domains/" + source + "/activate", "{}").status());
    }

    /** A drain whose moves wait (the pool has no SPM) goes on where it was after the manager restarts, and ends once an SPM moves them. */
    @Test
    void aDrainGoesOnAcrossAManagerRestart() throws Exception {
        String source;
        String target;
        String volumeId;
        try (io.storagebus.worker.HostWorker first = new io.storagebus.worker.HostWorker(io.storagebus.worker.WorkerConfig.of("host-drain-1",
                "drainpool", cluster.kafka.bootstrapServers(), cluster.zooKeeper.connectString())).start()) {
            source = domain("drain-restart", "drainpool");
            target = domain("drain-restart-target", "drainpool");
            volumeId = readyVolume(source, "moved-later");
        }
        awaitAliveSubscribers(with("host:host-drain-1", false));
        Http.Response r = http.post("/api/v1/domains/" + source + "/maintenance", new JsonObject().put("reason", "drain across a restart")
                .put("drain", new JsonObject().put("targetDomainId", target)));
        assertEquals(202, r.status(), r.body());
        JsonObject draining = awaitMaintenance(source, "DRAINING");
        assertEquals("PENDING", draining.getJsonObject("drain").getJsonArray("moves").getJsonObject(0).getString("status"), draining.encode());
        assertEquals("PREPARING_FOR_MAINTENANCE", domainStatus(source));

        cluster.manager.close();
        http = new Http(cluster.startManager().baseUrl());
        awaitMaintenance(source, "DRAINING");
        io.storagebus.worker.HostWorker second = cluster.startWorker("host-drain-2", c -> io.storagebus.worker.WorkerConfig.of("host-drain-2",
                "drainpool", cluster.kafka.bootstrapServers(), cluster.zooKeeper.connectString()));
        JsonObject completed = awaitMaintenance(source, "COMPLETED");
        assertEquals(1, completed.getJsonObject("drain").getInteger("moved"), completed.encode());
        assertEquals(target, http.get("/api/v1/volumes/" + volumeId).json().getString("domainId"));
        assertTrue(completed.getJsonArray("hostsDisconnected").contains("host-drain-2"), completed.encode());
        second.close();
        cluster.workers.remove(second);
    }

    /**
     * StorageBus vetoes a drain whose volumes cannot all move (a name the target has), and a
     * drain whose move fails (a target without room) is aborted with the reason: the domain is
     * active again and the volume where it was.
     */
    @Test
    void aDrainThatCannotMoveEveryVolumeEndsWithTheReason() throws Exception {
        String source = domain("drain-refused", "default");
        String target = domain("drain-taken", "default");
        String volumeId = readyVolume(source, "same-name");
        readyVolume(target, "same-name");
        assertError(http.post("/api/v1/domains/" + source + "/maintenance", new JsonObject().put("reason", "x")
                .put("drain", new JsonObject().put("targetDomainId", "nope"))), 400, "UNKNOWN_DOMAIN");
        Http.Response itself = http.post("/api/v1/domains/" + source + "/maintenance", new JsonObject().put("reason", "x")
                .put("drain", new JsonObject().put("targetDomainId", source)));
        assertError(itself, 400, "SAME_DOMAIN");
        assertEquals("drain.targetDomainId", itself.json().getString("field"));
        Http.Response extra = http.post("/api/v1/domains/" + source + "/maintenance", new JsonObject().put("reason", "x")
                .put("drain", new JsonObject().put("targetDomainId", target).put("live", true)));
        assertError(extra, 400, "UNKNOWN_FIELD");
        assertEquals("drain.live", extra.json().getString("field"));

        assertEquals(202, http.post("/api/v1/domains/" + source + "/maintenance", new JsonObject().put("reason", "name taken")
                .put("drain", new JsonObject().put("targetDomainId", target))).status());
        JsonObject vetoed = awaitMaintenance(source, "ABORTED");
        assertEquals("VETO", voter(vetoed, "storagebus").getString("vote"));
        assertTrue(voter(vetoed, "storagebus").getString("reason").contains("same-name"), vetoed.encode());
        assertEquals("ACTIVE", domainStatus(source));

        Http.Response small = http.post("/api/v1/domains", new JsonObject().put("name", "drain-small").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("domains").resolve("drain-small")).toString())
                        .put("capacity", "1M")));
        assertEquals(201, small.status(), small.body());
        Http.Response r = http.post("/api/v1/domains/" + source + "/maintenance", new JsonObject().put("reason", "no room there")
                .put("drain", new JsonObject().put("targetDomainId", small.json().getString("id"))));
        assertEquals(202, r.status(), r.body());
        JsonObject aborted = awaitMaintenance(source, "ABORTED");
        JsonObject move = aborted.getJsonObject("drain").getJsonArray("moves").getJsonObject(0);
        assertEquals("FAILED", move.getString("status"), aborted.encode());
        assertEquals("NO_SPACE", move.getJsonObject("error").getString("code"), aborted.encode());
        MaintenanceAborted event = awaitEvent(MaintenanceAborted.class, e -> e.getRequestId().equals(r.json().getString("requestId")));
        assertTrue(event.getVetoes().get(0).getReason().contains("same-name"), event.toString());
        assertEquals("ACTIVE", domainStatus(source));
        JsonObject volume = http.get("/api/v1/volumes/" + volumeId).json();
        assertEquals(source, volume.getString("domainId"), volume.encode());
        assertEquals("READY", volume.getString("status"), volume.encode());
    }

    @Test
    void badMaintenanceRequestsAreRefusedClearly() throws Exception {
        String domainId = domain("strict", "default");
        Http.Response missing = http.post("/api/v1/domains/" + domainId + "/maintenance", "{}");
        assertError(missing, 400, "REQUIRED");
        assertEquals("reason", missing.json().getString("field"));
        Http.Response range = http.post("/api/v1/domains/" + domainId + "/maintenance", new JsonObject().put("reason", "x").put("deadlineSeconds", 0));
        assertError(range, 400, "OUT_OF_RANGE");
        assertEquals("deadlineSeconds", range.json().getString("field"));
        assertError(http.post("/api/v1/domains/" + domainId + "/maintenance", new JsonObject().put("reason", "  ")), 400, "INVALID_VALUE");
        assertError(http.post("/api/v1/domains/" + UUID.randomUUID() + "/maintenance", new JsonObject().put("reason", "x")), 404, "DOMAIN_NOT_FOUND");
        assertError(http.get("/api/v1/domains/" + domainId + "/maintenance"), 404, "NO_MAINTENANCE_REQUEST");
        assertError(http.post("/api/v1/domains/" + domainId + "/activate", "{}"), 409, "NOT_IN_MAINTENANCE");
    }

    private StorageSubscriber subscriber(String id, SilencePolicy silence, MaintenanceVoter voter) {
        StorageSubscriber s = StorageSubscriber.builder(cluster.kafka.bootstrapServers(), id).description("test subscriber " + id)
                .silence(silence).heartbeatInterval(Duration.ofSeconds(1)).voter(voter).build();
        s.start();
        subscribers.add(s);
        awaitAliveSubscribers(with(id, true));
        return s;
    }

    /** The alive subscribers the manager knows now, with one added or taken out. */
    private Set<String> with(String id, boolean present) {
        Set<String> ids = new HashSet<>(HOSTS);
        subscribers.stream().map(StorageSubscriber::subscriberId).forEach(ids::add);
        if (present) {
            ids.add(id);
        } else {
            ids.remove(id);
        }
        return ids;
    }

    private void awaitAliveSubscribers(Set<String> expected) {
        await().atMost(WAIT).until(() -> {
            Set<String> alive = new HashSet<>();
            http.get("/api/v1/subscribers").array().stream().map(JsonObject.class::cast)
                    .filter(s -> s.getBoolean("alive")).forEach(s -> alive.add(s.getString("id")));
            return alive;
        }, expected::equals);
    }

    private String domain(String name, String pool) throws Exception {
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", name).put("driver", "blockfile").put("pool", pool)
                .put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("domains").resolve(name)).toString())));
        assertEquals(201, r.status(), r.body());
        return r.json().getString("id");
    }

    private String readyVolume(String domainId, String name) {
        Http.Response created = http.post("/api/v1/domains/" + domainId + "/volumes",
                new JsonObject().put("name", name).put("virtualSize", 16L << 20).put("format", "qcow2"));
        assertEquals(202, created.status(), created.body());
        String volumeId = created.json().getString("volumeId");
        await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getString("status"), "READY"::equals);
        return volumeId;
    }

    private JsonObject requestMaintenance(String domainId, String reason, int deadlineSeconds) {
        Http.Response r = http.post("/api/v1/domains/" + domainId + "/maintenance",
                new JsonObject().put("reason", reason).put("deadlineSeconds", deadlineSeconds));
        assertEquals(202, r.status(), r.body());
        return r.json();
    }

    private JsonObject awaitMaintenance(String domainId, String status) {
        return await().atMost(WAIT).until(() -> http.get("/api/v1/domains/" + domainId + "/maintenance"),
                r -> r.status() == 200 && status.equals(r.json().getString("status"))).json();
    }

    private String domainStatus(String domainId) {
        return http.get("/api/v1/domains/" + domainId).json().getString("status");
    }

    private JsonObject awaitTask(Http.Response accepted) {
        assertEquals(202, accepted.status(), accepted.body());
        String taskId = accepted.json().getString("taskId");
        return await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json(),
                t -> t.getString("status").equals("SUCCEEDED") || t.getString("status").equals("FAILED"));
    }

    private <T extends SpecificRecord> T awaitEvent(Class<T> type, Predicate<T> matching) {
        return await().atMost(WAIT).until(() -> TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS).stream()
                .map(r -> decode(r.value())).filter(type::isInstance).map(type::cast).filter(matching).findFirst().orElse(null), e -> e != null);
    }

    private static SpecificRecord decode(byte[] value) {
        try {
            return MessageCodec.standard().decode(value);
        } catch (Exception e) {
            return null;
        }
    }

    private static Set<String> voterIds(JsonObject maintenance) {
        Set<String> ids = new HashSet<>();
        maintenance.getJsonArray("voters").forEach(v -> ids.add(((JsonObject) v).getString("subscriberId")));
        return ids;
    }

    private static JsonObject voter(JsonObject maintenance, String id) {
        JsonObject voter = maintenance.getJsonArray("voters").stream().map(JsonObject.class::cast)
                .filter(v -> id.equals(v.getString("subscriberId"))).findFirst().orElse(null);
        assertNotNull(voter, id + " is not a voter: " + maintenance.encode());
        return voter;
    }

    private static void assertError(Http.Response r, int status, String code) {
        assertEquals(status, r.status(), r.body());
        assertEquals(code, r.json().getString("code"), r.body());
    }

    private static String loopDevicesOf(Path file) throws Exception {
        Process p = new ProcessBuilder("losetup", "--noheadings", "--output", "NAME", "--associated", file.toString()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor();
        return out;
    }
}
