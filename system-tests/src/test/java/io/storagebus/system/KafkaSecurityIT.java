package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.CommandVerifier;
import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaAcls;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.manager.Manager;
import io.storagebus.schema.CommandFailed;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeState;
import io.storagebus.subscriber.StorageSubscriber;
import io.storagebus.subscriber.Vote;
import io.storagebus.worker.IssuerPolicy;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * StorageBus on a broker secured as docs/SECURITY.md says: SASL_SSL only, a SCRAM user for the
 * manager, each host, the pool's SPM and a subscriber, each granted exactly its
 * {@link KafkaAcls}. The whole stack works (a volume made and prepared, a maintenance voted
 * and carried out, a subscriber told), and every identity is refused what it was not granted.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KafkaSecurityIT {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String POOL = "default";

    private SecuredKafka kafka;
    private Cluster cluster;
    private Manager manager;
    private KafkaConnection host1;
    private KafkaConnection spm;
    private KafkaConnection managerKafka;
    private KafkaConnection billing;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        kafka = new SecuredKafka(dir.resolve("kafka"), List.of("sb-host-9"));
        cluster = new Cluster(kafka, dir);
        spm = kafka.user("sb-spm-default", KafkaAcls.spm("User:sb-spm-default", POOL));
        host1 = kafka.user("sb-host-1", KafkaAcls.host("User:sb-host-1", "host-1", POOL));
        KafkaConnection host2 = kafka.user("sb-host-2", KafkaAcls.host("User:sb-host-2", "host-2", POOL));
        managerKafka = kafka.user("sb-manager", KafkaAcls.manager("User:sb-manager"));
        billing = kafka.user("billing", KafkaAcls.subscriber("User:billing", "billing"));
        // The managers' command key, as 'storagebus command-keys create' makes it: workers trust its public half only.
        KeyPair commandKey = CommandSigner.generate();
        IssuerPolicy trusted = IssuerPolicy.signedBy(CommandVerifier.of(commandKey.getPublic()));
        cluster.startWorker("host-1", c -> c.withKafka(host1, spm).withIssuerPolicy(trusted));
        cluster.startWorker("host-2", c -> c.withKafka(host2, spm).withIssuerPolicy(trusted));
        manager = cluster.startManager("manager-1", c -> c.withKafka(managerKafka).withSigner(CommandSigner.of(commandKey.getPrivate())));
        cluster.manager = manager;
        manager.defaultPoolReady().get(60, TimeUnit.SECONDS);
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void everyIdentityDoesItsWorkWithOnlyItsGrants() throws Exception {
        List<VolumeCreated> told = new CopyOnWriteArrayList<>();
        try (StorageSubscriber subscriber = StorageSubscriber.builder(billing, "billing").silence(SilencePolicy.VETO)
                .voter(request -> Vote.consent()).listener(e -> {
                    if (e instanceof VolumeCreated created) {
                        told.add(created);
                    }
                }).build()) {
            subscriber.start();
            Http http = new Http(manager.baseUrl());
            Http.Response domain = http.post("/api/v1/domains", new JsonObject().put("name", "d").put("driver", "file")
                    .put("properties", new JsonObject().put("path", Files.createTempDirectory("kafka-acl").toString())));
            assertEquals(201, domain.status(), domain.body());
            String domainId = domain.json().getString("id");
            Http.Response created = http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", "v").put("virtualSize", 1 << 20));
            assertEquals(202, created.status(), created.body());
            String volumeId = created.json().getString("volumeId");
            await().atMost(WAIT).until(() -> "READY".equals(http.get("/api/v1/volumes/" + volumeId).json().getString("status")));
            Http.Response prepared = http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-1"));
            assertEquals(202, prepared.status(), prepared.body());
            String taskId = prepared.json().getString("taskId");
            assertEquals("SUCCEEDED", await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json().getString("status"),
                    s -> !"RUNNING".equals(s) && !"PENDING".equals(s)));
            assertTrue(http.get("/api/v1/volumes/" + volumeId).json().containsKey("lease"));
            await().atMost(WAIT).until(() -> told.stream().anyMatch(e -> e.getVolumeId().equals(volumeId)));

            // Maintenance: the subscriber and both hosts vote, the hosts disconnect and say so.
            Http.Response requested = http.post("/api/v1/domains/" + domainId + "/maintenance",
                    new JsonObject().put("reason", "acl check").put("deadlineSeconds", 30));
            assertEquals(202, requested.status(), requested.body());
            JsonObject completed = await().atMost(WAIT).until(() -> http.get("/api/v1/domains/" + domainId + "/maintenance").json(),
                    m -> Set.of("COMPLETED", "ABORTED").contains(m.getString("status")));
            assertEquals("COMPLETED", completed.getString("status"), completed.encode());
            assertTrue(completed.getJsonArray("voters").stream().map(JsonObject.class::cast)
                    .allMatch(v -> "CONSENT".equals(v.getString("vote")) && !v.getBoolean("silent", false)), completed.encode());
        }

        // The CLI tails events as a subscriber, with Kafka's client settings in a properties file.
        Path clientConfig = Files.createTempFile("billing", ".properties");
        Properties client = new Properties();
        client.putAll(billing.security());
        try (var out = Files.newBufferedWriter(clientConfig)) {
            client.store(out, "billing's Kafka identity");
        }
        CliRun tail = CliRun.of("events", "tail", "--from-beginning", "--count", "1", "--type", "VolumeCreated",
                "--bootstrap-servers", kafka.bootstrapServers(), "--command-config", clientConfig.toString());
        assertEquals(0, tail.exit(), tail.err());
        assertTrue(tail.out().contains("VolumeCreated"), tail.out());
    }

    @Test
    void aClientWithoutCredentialsOrWithAWrongPasswordIsRefused() {
        KafkaConnection anonymous = KafkaConnection.of(kafka.bootstrapServers(), "SSL").withTrustedCas(kafka.caFile());
        // The broker never answers a client that does not start SASL: it gives up on the handshake.
        ExecutionException refused = assertThrows(ExecutionException.class, () -> topics(anonymous));
        assertInstanceOf(TimeoutException.class, refused.getCause(), refused.toString());
        ExecutionException wrong = assertThrows(ExecutionException.class, () -> topics(kafka.connection("sb-host-1", "guessed")));
        assertInstanceOf(SaslAuthenticationException.class, wrong.getCause(), wrong.toString());
        ExecutionException plaintext = assertThrows(ExecutionException.class, () -> topics(KafkaConnection.plaintext(kafka.bootstrapServers())));
        assertInstanceOf(TimeoutException.class, plaintext.getCause(), plaintext.toString());
    }

    /** mTLS instead of SCRAM: the certificate's CN is the principal, and the same grants apply. */
    @Test
    void aClientCertificateIsAnIdentityWithTheSameGrants() throws Exception {
        kafka.grant("User:sb-host-9", KafkaAcls.host("User:sb-host-9", "host-9", POOL));
        KafkaConnection certificate = kafka.certificateConnection("sb-host-9");
        try (Admin admin = KafkaClients.admin(certificate)) {
            Topics.ensure(admin, List.of(Topics.hostCommandTopic("host-9", (short) 1)));
            IllegalStateException other = assertThrows(IllegalStateException.class,
                    () -> Topics.ensure(admin, List.of(Topics.hostCommandTopic("host-10", (short) 1))));
            assertInstanceOf(TopicAuthorizationException.class, other.getCause(), other.toString());
        }
        assertRefusedWrite(certificate, Topics.hostCommands("host-1"));
        KafkaConnection noCertificate = KafkaConnection.of(certificate.bootstrapServers(), "SSL").withTrustedCas(kafka.caFile());
        ExecutionException refused = assertThrows(ExecutionException.class, () -> topics(noCertificate));
        assertInstanceOf(SslAuthenticationException.class, refused.getCause(), refused.toString());
    }

    @Test
    void aHostCanNeitherWriteNorReadAnotherHostsTopicNorWritePoolState() {
        assertRefusedWrite(host1, Topics.hostCommands("host-2"));
        assertRefusedWrite(host1, Topics.VOLUME_STATE);
        assertRefusedWrite(host1, Topics.spmJobs(POOL));
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(KafkaClients.consumer(host1))) {
            consumer.assign(List.of(new TopicPartition(Topics.hostCommands("host-2"), 0)));
            assertThrows(TopicAuthorizationException.class, () -> consumer.poll(Duration.ofSeconds(10)));
        }
    }

    /** A term starts by reading the pool's domains (to build their capacity accounts); only the manager defines them. */
    @Test
    void theSpmReadsTheDomainsStateButCannotWriteIt() {
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(KafkaClients.consumer(spm))) {
            assertDoesNotThrow(() -> KafkaClients.latestByKey(consumer, Topics.DOMAIN_STATE, new java.util.concurrent.CountDownLatch(1)));
        }
        assertRefusedWrite(spm, Topics.DOMAIN_STATE);
    }

    @Test
    void aSubscriberCanWriteNoCommandAndNoState() {
        assertRefusedWrite(billing, Topics.spmCommands(POOL));
        assertRefusedWrite(billing, Topics.hostCommands("host-1"));
        assertRefusedWrite(billing, Topics.DOMAIN_STATE);
        assertRefusedWrite(billing, Topics.EVENTS);
    }

    /**
     * Whoever can write a command topic (a host may write to its SPM's, the SPM to every host's)
     * still cannot make a worker destroy: an unsigned command, one signed by another key, and
     * one naming a subscriber as its issuer are refused and reported, and the volume stays.
     * The manager's own signed delete then goes through.
     */
    @Test
    void forgedDestructiveCommandsAreRefusedAndReportedWhileTheManagersSignedOneIsCarriedOut() throws Exception {
        Http http = new Http(manager.baseUrl());
        Path domainDir = Files.createTempDirectory("kafka-forged");
        Http.Response domain = http.post("/api/v1/domains", new JsonObject().put("name", "forged").put("driver", "file")
                .put("properties", new JsonObject().put("path", domainDir.toString())));
        String domainId = domain.json().getString("id");
        Http.Response created = http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", "precious").put("virtualSize", 1 << 20));
        String volumeId = created.json().getString("volumeId");
        await().atMost(WAIT).until(() -> "READY".equals(http.get("/api/v1/volumes/" + volumeId).json().getString("status")));
        VolumeState volume = TopicReader.readAll(managerKafka, Topics.VOLUME_STATE).stream().filter(r -> volumeId.equals(r.key()))
                .map(r -> (VolumeState) decode(r.value())).reduce((a, b) -> b).orElseThrow();
        DomainRef ref = DomainRef.newBuilder().setId(domainId).setDriver("file").setProperties(Map.of("path", domainDir.toString())).build();
        CommandSigner attacker = CommandSigner.of(CommandSigner.generate().getPrivate());

        send(host1, Topics.spmCommands(POOL), volumeId, deleteVolume("manager:manager-1", volume, ref), null);
        send(host1, Topics.spmCommands(POOL), volumeId, deleteVolume("subscriber:billing", volume, ref), null);
        send(host1, Topics.spmCommands(POOL), volumeId, deleteVolume("manager:manager-1", volume, ref), attacker);
        send(spm, Topics.hostCommands("host-2"), domainId, DisconnectDomain.newBuilder()
                .setEnvelope(Envelopes.origin(POOL, "manager:manager-1", "forged")).setRequestId("forged").setDomain(ref).setHostId("host-2").build(), null);

        List<CommandFailed> refusals = await().atMost(WAIT).until(() -> TopicReader.readAll(managerKafka, Topics.EVENTS).stream()
                .map(r -> decode(r.value())).filter(CommandFailed.class::isInstance).map(CommandFailed.class::cast)
                .filter(f -> IssuerPolicy.REFUSED.equals(f.getCode())).toList(), l -> l.size() >= 4);
        assertEquals(4, refusals.size(), refusals.toString());
        assertTrue(refusals.stream().anyMatch(f -> f.getMessage().contains("from 'subscriber:billing' refused: only a manager")), refusals.toString());
        assertEquals(3, refusals.stream().filter(f -> f.getMessage().contains("not signed by a trusted manager key")).count(), refusals.toString());
        assertEquals(4, TopicReader.readAll(managerKafka, Topics.DEAD_LETTER).stream()
                .filter(r -> new String(r.headers().lastHeader(Records.DLQ_REASON).value(), StandardCharsets.UTF_8).contains(" refused: "))
                .count(), "each refused command is kept, with its reason");
        assertEquals("READY", http.get("/api/v1/volumes/" + volumeId).json().getString("status"));
        assertTrue(Files.exists(Path.of(java.net.URI.create(http.get("/api/v1/volumes/" + volumeId).json().getString("uri")))));

        Http.Response deleted = http.delete("/api/v1/volumes/" + volumeId + "?purge=true");
        assertEquals(202, deleted.status(), deleted.body());
        String taskId = deleted.json().getString("taskId");
        assertEquals("SUCCEEDED", await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json().getString("status"),
                s -> !"RUNNING".equals(s) && !"PENDING".equals(s)));
        assertEquals(404, http.get("/api/v1/volumes/" + volumeId).status());
    }

    private static SpecificRecord decode(byte[] value) {
        try {
            return MessageCodec.standard().decode(value);
        } catch (UndecodableRecordException e) {
            throw new AssertionError(e);
        }
    }

    private static DeleteVolume deleteVolume(String issuer, VolumeState volume, DomainRef domain) {
        return DeleteVolume.newBuilder().setEnvelope(Envelopes.origin(POOL, issuer, "forged")).setTaskId(UUID.randomUUID().toString())
                .setVolumeId(volume.getId()).setDomain(domain).setVolume(volume).setWipe(false).build();
    }

    private static void send(KafkaConnection who, String topic, String key, SpecificRecord command, CommandSigner signer) throws Exception {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(who))) {
            ProducerRecord<String, byte[]> record = Records.of(topic, key, command);
            producer.send(signer == null ? record : signer.sign(record)).get(20, TimeUnit.SECONDS);
        }
    }

    private static void assertRefusedWrite(KafkaConnection who, String topic) {
        Properties p = KafkaClients.producer(who);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
            Exception e = assertThrows(Exception.class, () -> producer.send(new ProducerRecord<>(topic, "k", new byte[] {1})).get(20, TimeUnit.SECONDS));
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            assertInstanceOf(TopicAuthorizationException.class, cause, topic + ": " + e);
        }
    }

    private static Set<String> topics(KafkaConnection who) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", who.bootstrapServers());
        p.putAll(who.security());
        p.put("default.api.timeout.ms", "8000");
        p.put("request.timeout.ms", "4000");
        try (Admin admin = Admin.create(p)) {
            return admin.listTopics().names().get();
        }
    }
}
