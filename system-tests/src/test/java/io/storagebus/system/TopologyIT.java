package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaAcls;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.Role;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.schema.WatermarkReason;
import io.storagebus.testkit.StorageBusProcess;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compose topology as separate processes on one machine, each started as
 * {@code bin/storagebus} starts it, from configuration files: ZooKeeper, Kafka, two managers and
 * three host workers, each with its own Kafka user (SASL_SSL, ACLs as docs/SECURITY.md grants
 * them) and the shared ZooKeeper digest identity over TLS; the managers serve https with tokens
 * and sign commands. The active manager is killed and the standby takes over; a worker is
 * killed and restarted with its host id; storage keeps extending with no manager up.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TopologyIT {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final int SESSION_MS = 4000;
    private static final long GIB = 1L << 30;

    private final Path dist = Path.of(System.getProperty("storagebus.dist"));
    private final List<StorageBusProcess> processes = new ArrayList<>();
    private final Map<String, StorageBusProcess> services = new LinkedHashMap<>();
    private final Map<String, Integer> httpPorts = new LinkedHashMap<>();
    private Path tmp;
    private SecuredKafka kafka;
    private final Map<String, KafkaConnection> kafkaUsers = new LinkedHashMap<>();
    private String zooKeeper;
    private Path zooKeeperPassword;
    private TestTls zooKeeperTls;

    private static final String ADMIN_TOKEN = ApiTokens.generate();
    private TestTls tls;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        this.tmp = tmp;
        zooKeeperTls = TestTls.create(Files.createDirectories(tmp.resolve("zookeeper-tls")));
        zooKeeper = standalone("zookeeper", "ZooKeeper ready at ", "--tls-keystore", zooKeeperTls.keystore().toString(),
                "--tls-password-file", zooKeeperTls.passwordFile().toString(), "--tls-certificate", zooKeeperTls.certificate().toString());
        zooKeeperPassword = Files.writeString(tmp.resolve("zookeeper-password"), "zk-" + System.nanoTime() + "\n");
        kafka = new SecuredKafka(tmp.resolve("kafka"));
        Ran keys = run("command-keys", "create", "--dir", tmp.resolve("command-keys").toString());
        assertEquals(0, keys.exit(), keys.output());
        kafkaUsers.put("sb-spm-default", kafka.user("sb-spm-default", KafkaAcls.spm("User:sb-spm-default", "default")));
        kafkaUsers.put("sb-manager", kafka.user("sb-manager", KafkaAcls.manager("User:sb-manager")));
        for (String host : List.of("host-1", "host-2", "host-3")) {
            kafkaUsers.put("sb-" + host, kafka.user("sb-" + host, KafkaAcls.host("User:sb-" + host, host, "default")));
        }
        for (String host : List.of("host-1", "host-2", "host-3")) {
            service(host, "worker", config(host, "worker.host-id = " + host + "\nworker.spm-sasl-username = sb-spm-default"
                    + "\nworker.transfer-port = 0\nworker.transfer-dir = " + tmp.resolve("transfers-" + host)
                    + "\ncommands.trusted-keys-file = " + tmp.resolve("command-keys/commands.pub")
                    + "\nworker.spm-sasl-password-file = " + kafka.passwordFile("sb-spm-default")));
        }
        for (String host : List.of("host-1", "host-2", "host-3")) {
            await().atMost(WAIT).until(() -> get(host, "/health/ready").status() == 200);
        }
        service("manager-1", "manager", managerConfig("manager-1"));
        await().atMost(WAIT).until(() -> get("manager-1", "/health/ready").status() == 200);
        service("manager-2", "manager", managerConfig("manager-2"));
        await().atMost(WAIT).until(() -> get("manager-2", "/health/ready").status() == 200);
    }

    @AfterAll
    void stop() throws Exception {
        for (int i = processes.size() - 1; i >= 0; i--) {
            processes.get(i).close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void configCheckAcceptsTheFilesInUseAndNamesTheWrongKeyOfABadOne() throws Exception {
        assertEquals(0, run("config", "check", tmp.resolve("manager-1.conf").toString()).exit());
        assertEquals(0, run("config", "check", tmp.resolve("host-1.conf").toString()).exit());
        Path bad = Files.writeString(tmp.resolve("bad.conf"), "kafka.bootstrap-servers = " + kafka.bootstrapServers() + "\nzookeeper.conect = " + zooKeeper
                + "\nworker.host-id = host-9\n");
        Ran checked = run("config", "check", bad.toString());
        assertEquals(1, checked.exit(), checked.output());
        assertTrue(checked.output().contains(bad + ":2: unknown key 'zookeeper.conect' (did you mean 'zookeeper.connect'?)"), checked.output());
        Ran refused = run("worker", "--config", bad.toString());
        assertEquals(2, refused.exit(), "a worker refuses to start with it: " + refused.output());
        assertTrue(refused.output().contains("zookeeper.conect"), refused.output());
    }

    @Test
    void theStandbyTakesOverWorkersResumeAndStorageKeepsGoingWithoutManagers() throws Exception {
        assertEquals("ACTIVE", get("manager-1", "/api/v1/health").json().getString("role"));
        assertEquals("STANDBY", get("manager-2", "/api/v1/health").json().getString("role"));
        Path domainDir = Files.createDirectories(tmp.resolve("domain"));
        Http.Response domain = http("manager-1").post("/api/v1/domains", new JsonObject().put("name", "shared").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", domainDir.toString())));
        assertEquals(201, domain.status(), domain.body());
        String domainId = domain.json().getString("id");
        JsonObject before = createVolume("manager-1", domainId, "before");
        awaitStatus("manager-1", before.getString("volumeId"), "READY");

        // The active manager crashes: the standby takes over within a session timeout and some.
        long killed = System.nanoTime();
        services.get("manager-1").kill();
        await().atMost(WAIT).until(() -> "ACTIVE".equals(get("manager-2", "/api/v1/health").json().getString("role")));
        System.out.printf("takeover after kill -9 of the active manager: %d ms (session timeout %d ms)%n",
                (System.nanoTime() - killed) / 1_000_000, SESSION_MS);
        JsonObject after = createVolume("manager-2", domainId, "after");
        awaitStatus("manager-2", after.getString("volumeId"), "READY");
        assertEquals("READY", get("manager-2", "/api/v1/volumes/" + before.getString("volumeId")).json().getString("status"));

        // The request can be followed by its correlation id from the manager's JSON log to the SPM's.
        String spm = get("manager-2", "/api/v1/pools/default/spm").json().getString("host");
        assertTrue(Files.readString(services.get("manager-2").log()).contains("\"correlationId\":\"" + after.getString("taskId") + "\""));
        assertTrue(Files.readString(services.get(spm).log()).contains("\"correlationId\":\"" + after.getString("taskId") + "\""));

        // A worker crashes and comes back with the same host id: it reads its topic on from where it was.
        String restarted = List.of("host-1", "host-2", "host-3").stream().filter(h -> !h.equals(spm)).findFirst().orElseThrow();
        services.get(restarted).kill();
        services.get(restarted).start();
        await().atMost(WAIT).until(() -> get(restarted, "/health/ready").status() == 200);
        // The crashed worker's host node lives until its ZooKeeper session expires, and the new
        // session re-creates it only then: the manager may briefly know no such host.
        await().atMost(WAIT).until(() -> get("manager-2", "/api/v1/hosts").body().contains("\"" + restarted + "\""));
        String prepare = await().atMost(WAIT).until(() -> {
            Http.Response r = http(managerUp()).post("/api/v1/volumes/" + after.getString("volumeId") + "/prepare",
                    new JsonObject().put("hostId", restarted));
            return r.status() == 202 ? r.json().getString("taskId") : null;
        }, java.util.Objects::nonNull);
        awaitTask("manager-2", prepare, "SUCCEEDED");
        awaitTask("manager-2", hostTask(after.getString("volumeId"), "teardown", null), "SUCCEEDED");

        // No manager at all: a host's watermark report is still answered by the SPM, and the volume grows.
        String volumeId = before.getString("volumeId");
        awaitTask("manager-2", hostTask(volumeId, "prepare", restarted), "SUCCEEDED");
        String uri = get(managerUp(), "/api/v1/volumes/" + volumeId).json().getString("uri");
        Path data = uri.startsWith("file:") ? Path.of(java.net.URI.create(uri)) : Path.of(uri);
        services.get("manager-2").close();
        long allocation = Files.size(data);
        report(domainId, domainDir, volumeId, restarted, allocation);
        await().atMost(WAIT).until(() -> Files.size(data) > allocation);
        await().atMost(WAIT).until(() -> get(restarted, "/metrics").body().contains("storagebus_extend_round_trip_seconds_count 1"));

        services.get("manager-1").start();
        await().atMost(WAIT).until(() -> get("manager-1", "/health/ready").status() == 200
                && "ACTIVE".equals(get("manager-1", "/api/v1/health").json().getString("role")));
        awaitTask("manager-1", hostTask(volumeId, "teardown", null), "SUCCEEDED");

        String spmMetrics = get(spm, "/metrics").body();
        assertTrue(spmMetrics.contains("storagebus_command_duration_seconds_count{command=\"CreateVolume\",outcome=\"ok\"} 2"), spmMetrics);
        assertTrue(spmMetrics.contains("storagebus_extends_total{outcome=\"extended\"} 1"), spmMetrics);
        assertTrue(spmMetrics.contains("storagebus_spm_epoch{pool=\"default\"}"), spmMetrics);
        assertTrue(spmMetrics.contains("storagebus_spm_changes_total{pool=\"default\"} 1"), spmMetrics);
        assertTrue(spmMetrics.contains("storagebus_consumer_lag_records{consumer=\"spm-extends\"}"), spmMetrics);
        String hostMetrics = get(restarted, "/metrics").body();
        assertTrue(hostMetrics.contains("storagebus_command_duration_seconds_count{command=\"PrepareVolume\",outcome=\"ok\"}"), hostMetrics);
        assertTrue(hostMetrics.contains("storagebus_consumer_lag_records{consumer=\"host-commands\"}"), hostMetrics);
        String managerMetrics = get("manager-1", "/metrics").body();
        assertTrue(managerMetrics.contains("storagebus_manager_active 1"), managerMetrics);
        assertTrue(managerMetrics.contains("storagebus_http_requests_total{method=\"POST\",status=\"202\"}"), managerMetrics);

        // A destructive command: the SPM carries it out because the manager signed it with the key the workers trust.
        Http.Response deleted = http("manager-1").delete("/api/v1/volumes/" + volumeId + "?purge=true");
        assertEquals(202, deleted.status(), deleted.body());
        awaitTask("manager-1", deleted.json().getString("taskId"), "SUCCEEDED");
        assertTrue(Files.notExists(data), "the volume's file is gone");
    }

    private JsonObject createVolume(String manager, String domainId, String name) {
        Http.Response r = http(manager).post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", name)
                .put("virtualSize", 8 * GIB).put("format", "qcow2").put("initialSize", GIB));
        assertEquals(202, r.status(), r.body());
        assertEquals(r.json().getString("taskId"), r.header("X-Correlation-Id"));
        return r.json();
    }

    private String managerUp() {
        return services.get("manager-1").alive() ? "manager-1" : "manager-2";
    }

    private String hostTask(String volumeId, String what, String hostId) {
        Http.Response r = http(managerUp())
                .post("/api/v1/volumes/" + volumeId + "/" + what, hostId == null ? new JsonObject() : new JsonObject().put("hostId", hostId));
        assertEquals(202, r.status(), r.body());
        return r.json().getString("taskId");
    }

    /** What a host's volume monitor sends when a guest's writes near the end of the allocation. */
    private void report(String domainId, Path domainDir, String volumeId, String hostId, long allocation) {
        DomainRef domain = DomainRef.newBuilder().setId(domainId).setDriver("blockfile").setProperties(Map.of("path", domainDir.toString())).build();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(kafkaUsers.get("sb-" + hostId)))) {
            producer.send(Records.of(Topics.watermarks("default"), volumeId, VolumeWatermark.newBuilder()
                    .setEnvelope(Envelopes.origin("default", "host:" + hostId, "topology-extend")).setVolumeId(volumeId).setDomain(domain)
                    .setHostId(hostId).setAllocation(allocation).setHighestOffset(allocation - (1 << 20)).setWriteRate(50L << 20)
                    .setReason(WatermarkReason.THRESHOLD).setPaused(false).build()));
        }
    }

    private void awaitStatus(String manager, String volumeId, String status) {
        await().atMost(WAIT).until(() -> get(manager, "/api/v1/volumes/" + volumeId).json().getString("status"), status::equals);
    }

    private void awaitTask(String manager, String taskId, String status) {
        await().atMost(WAIT).until(() -> get(manager, "/api/v1/tasks/" + taskId).json().getString("status"), status::equals);
    }

    /** Managers speak https, workers' metrics and health endpoints plain http. */
    private Http http(String service) {
        try {
            return service.startsWith("manager") ? new Http("https://127.0.0.1:" + httpPorts.get(service), ADMIN_TOKEN, tls.clientContext())
                    : new Http("http://127.0.0.1:" + httpPorts.get(service));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private Http.Response get(String service, String path) {
        try {
            return http(service).get(path);
        } catch (AssertionError e) {
            return new Http.Response(599, e.getMessage(), "", null);
        }
    }

    private String standalone(String what, String readyLine, String... more) throws Exception {
        List<String> args = new ArrayList<>(List.of(what, "--data-dir", tmp.resolve(what).toString(), "--port", Integer.toString(freePort())));
        args.addAll(List.of(more));
        StorageBusProcess p = new StorageBusProcess(dist, what, args, Map.of(), tmp);
        processes.add(p.start());
        Pattern ready = Pattern.compile(Pattern.quote(readyLine) + "(\\S+)");
        return await().atMost(WAIT).until(() -> {
            Matcher m = ready.matcher(Files.readString(p.log()));
            return m.find() ? m.group(1) : null;
        }, a -> a != null);
    }

    private void service(String name, String role, Path config) throws IOException {
        StorageBusProcess p = new StorageBusProcess(dist, name, List.of(role, "--config", config.toString()), Map.of(), tmp);
        processes.add(p.start());
        services.put(name, p);
    }

    /** Managers as in production: https (a keytool certificate) and tokens, here one admin token the test holds. */
    private Path managerConfig(String id) throws Exception {
        Path tokens = tmp.resolve("api-tokens");
        if (Files.notExists(tokens)) {
            Files.writeString(tokens, ApiTokens.line("topology-test", Role.ADMIN, ADMIN_TOKEN) + "\n");
            tls = TestTls.create(tmp);
        }
        return config(id, "manager.id = " + id + "\nmanager.http-host = 127.0.0.1\nmanager.advertised-url = https://127.0.0.1:" + "%PORT%"
                + "\nmanager.api-tokens-file = " + tokens + "\nmanager.tls-keystore-file = " + tls.keystore()
                + "\nmanager.tls-keystore-password-file = " + tls.passwordFile()
                + "\ncommands.signing-key-file = " + tmp.resolve("command-keys/commands.key"));
    }

    private Path config(String name, String specific) throws IOException {
        int port = freePort();
        httpPorts.put(name, port);
        String portKey = name.startsWith("manager") ? "manager.http-port" : "worker.http-port";
        String kafkaUser = name.startsWith("manager") ? "sb-manager" : "sb-" + name;
        return Files.writeString(tmp.resolve(name + ".conf"), String.join("\n",
                "# " + name + " of the topology test: Kafka over SASL_SSL with ACLs, ZooKeeper over TLS with a digest identity",
                "kafka.bootstrap-servers = " + kafka.bootstrapServers(),
                "kafka.ssl-ca-file = " + kafka.caFile(),
                "kafka.sasl-username = " + kafkaUser,
                "kafka.sasl-password-file = " + kafka.passwordFile(kafkaUser),
                "zookeeper.connect = " + zooKeeper,
                "zookeeper.ssl-ca-file = " + zooKeeperTls.certificate(),
                "zookeeper.digest-user = storagebus",
                "zookeeper.digest-password-file = " + zooKeeperPassword,
                "zookeeper.session-timeout-ms = " + SESSION_MS,
                "log.format = json",
                portKey + " = " + port,
                specific.replace("%PORT%", Integer.toString(port)), ""));
    }

    private record Ran(int exit, String output) {
    }

    private Ran run(String... args) throws Exception {
        StorageBusProcess p = new StorageBusProcess(dist, "run-" + System.nanoTime(), List.of(args), Map.of(), tmp);
        int exit = p.start().waitFor(Duration.ofSeconds(60));
        return new Ran(exit, Files.readString(p.log()));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
