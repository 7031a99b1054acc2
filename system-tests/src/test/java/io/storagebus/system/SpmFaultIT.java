package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.driver.support.DirectoryFence;
import io.storagebus.manager.Manager;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.schema.BackupCompleted;
import io.storagebus.schema.BackupProgress;
import io.storagebus.schema.CommandFailed;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.testkit.S3MockServer;
import io.storagebus.testkit.TcpProxy;
import io.storagebus.testkit.StorageBusProcess;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SPM under real faults, with host workers as separate JVM processes: killed, frozen past
 * their session and thawed (the real dual-leader case), cut off from ZooKeeper and Kafka, with
 * the broker restarted and a node of the 3-node ZooKeeper ensemble restarted, all during a steady
 * stream of volume creations. After each: the domain's epoch log never goes backwards, every
 * accepted request ends in exactly one READY volume or one failure, and no file is an orphan.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SpmFaultIT {
    static final int SESSION_MS = 4000;
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final List<String> HOSTS = List.of("host-a", "host-b");
    /** Worker logs stay after the run, for a look when a fault test fails. */
    private static final Path LOGS = Path.of("target", "fault-logs");

    private Path tmp;
    private TestingCluster zk;
    private EmbeddedKafka kafka;
    private final Map<String, TcpProxy> kafkaProxies = new HashMap<>();
    private final Map<String, List<TcpProxy>> zkProxies = new HashMap<>();
    private final Map<String, StorageBusProcess> workers = new ConcurrentHashMap<>();
    private Manager manager;
    private S3MockServer s3;
    private Http http;
    private Path images;
    private String domainId;
    private final Set<String> accepted = ConcurrentHashMap.newKeySet();

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        Files.createDirectories(LOGS);
        List<InstanceSpec> specs = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            specs.add(new InstanceSpec(Files.createDirectories(dir.resolve("zk" + i)).toFile(), EmbeddedKafka.freePort(), EmbeddedKafka.freePort(),
                    EmbeddedKafka.freePort(), true, i, 1000, 0));
        }
        zk = new TestingCluster(specs);
        zk.start();
        kafka = new EmbeddedKafka(dir.resolve("kafka"), 0);
        for (String host : HOSTS) {
            int brokerPort = EmbeddedKafka.freePort();
            TcpProxy proxy = new TcpProxy("127.0.0.1", brokerPort);
            kafkaProxies.put(host, proxy);
            kafka.addListener(host.replace("-", "_").toUpperCase(), brokerPort, proxy.port());
            zkProxies.put(host, specs.stream().map(s -> new TcpProxy("127.0.0.1", s.getPort())).toList());
        }
        kafka.start();
        for (String host : HOSTS) {
            startWorker(host);
        }
        manager = new Manager(ManagerConfig.of(kafka.bootstrapServers(), zk.getConnectString(), 0)).start();
        http = new Http(manager.baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        images = Files.createDirectories(dir.resolve("images"));
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", "d").put("driver", "file")
                .put("properties", new JsonObject().put("path", images.toString())));
        assertEquals(201, r.status(), r.body());
        domainId = r.json().getString("id");
    }

    @AfterAll
    void stop() throws Exception {
        for (StorageBusProcess w : workers.values()) {
            w.close();
        }
        if (manager != null) {
            manager.close();
        }
        kafkaProxies.values().forEach(TcpProxy::close);
        zkProxies.values().forEach(l -> l.forEach(TcpProxy::close));
        Closing.all(kafka, s3, zk);
    }

    /** Every host back up and the pool with an SPM before the next fault. */
    @AfterEach
    void recover() throws Exception {
        for (String host : HOSTS) {
            kafkaProxies.get(host).restore();
            zkProxies.get(host).forEach(TcpProxy::restore);
            if (!workers.get(host).alive()) {
                startWorker(host);
            }
        }
        await().atMost(WAIT).until(() -> http.get("/api/v1/hosts").array().size() == HOSTS.size() && spm() != null);
    }

    private void startWorker(String host) throws Exception {
        String zkConnect = zkProxies.get(host).stream().map(TcpProxy::address).collect(Collectors.joining(","));
        workers.put(host, StorageBusProcess.worker(Path.of(System.getProperty("storagebus.dist")), host,
                kafkaProxies.get(host).address(), zkConnect, SESSION_MS, LOGS).start());
    }

    @Test
    void killedSpm() throws Exception {
        faultDuringStream("kill -9", spm -> {
            workers.get(spm).kill();
            await().atMost(WAIT).until(() -> { JsonObject now = spm(); return now != null && !now.getString("host").equals(spm); });
        });
    }

    /**
     * A backup whose SPM is killed with -9 while the data streams to the object store: it stays
     * RUNNING (never COMPLETE) until the successor, resuming the job from spm-jobs, has copied
     * and verified the data and written the manifest; the backup then restores to exactly the
     * snapshot's content.
     */
    @Test
    void backupInterruptedByKillingTheSpmIsResumedAndOnlyThenComplete() throws Exception {
        s3 = S3MockServer.start(tmp.resolve("s3"));
        JsonObject bag = new JsonObject();
        s3.domainProperties().forEach(bag::put);
        String objects = domain("objects", "object", bag);
        String sources = domain("backup-sources", "file",
                new JsonObject().put("path", Files.createDirectories(tmp.resolve("backup-sources")).toString()));
        Http.Response created = http.post("/api/v1/domains/" + sources + "/volumes", new JsonObject().put("name", "big").put("virtualSize", 1L << 30));
        String volumeId = created.json().getString("volumeId");
        await().atMost(WAIT).until(() -> "READY".equals(http.get("/api/v1/volumes/" + volumeId).json().getString("status")));
        ThinVolumes.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x3c 0 384M", top(volumeId).toString());
        String snapshotTask = http.post("/api/v1/volumes/" + volumeId + "/snapshots", new JsonObject().put("name", "before-kill")).json().getString("taskId");
        await().atMost(WAIT).until(() -> "SUCCEEDED".equals(http.get("/api/v1/tasks/" + snapshotTask).json().getString("status")));

        JsonObject spm = spm();
        Http.Response started = http.post("/api/v1/volumes/" + volumeId + "/backups", new JsonObject().put("targetDomainId", objects));
        assertEquals(202, started.status(), started.body());
        String backupId = started.json().getString("backupId");
        await().atMost(WAIT).until(() -> !events(BackupProgress.class, volumeId).isEmpty());
        workers.get(spm.getString("host")).kill();
        assertEquals("RUNNING", http.get("/api/v1/backups/" + backupId).json().getString("status"), "killed while the data streamed");

        JsonObject ended = await().atMost(WAIT).until(() -> http.get("/api/v1/backups/" + backupId).json(),
                b -> !"RUNNING".equals(b.getString("status")));
        assertEquals("COMPLETE", ended.getString("status"), ended.encode());
        List<BackupCompleted> completed = events(BackupCompleted.class, volumeId);
        assertEquals(1, completed.size(), "completed once");
        assertTrue(completed.get(0).getEnvelope().getSpmEpoch() > spm.getLong("epoch"), "completed by the successor: " + completed.get(0));

        Http.Response restore = http.post("/api/v1/backups/" + backupId + "/restore", new JsonObject().put("targetDomainId", sources).put("name", "restored"));
        assertEquals(202, restore.status(), restore.body());
        String restoredId = restore.json().getString("volumeId");
        await().atMost(WAIT).until(() -> "READY".equals(http.get("/api/v1/volumes/" + restoredId).json().getString("status")));
        ThinVolumes.run("qemu-img", "compare", "-U", top(volumeId).toString(), top(restoredId).toString());
    }

    private String domain(String name, String driver, JsonObject properties) {
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", name).put("driver", driver).put("properties", properties));
        assertEquals(201, r.status(), r.body());
        return r.json().getString("id");
    }

    private Path top(String volumeId) {
        return Path.of(java.net.URI.create(http.get("/api/v1/volumes/" + volumeId).json().getString("uri")));
    }

    private <T extends SpecificRecord> List<T> events(Class<T> type, String volumeId) throws Exception {
        List<T> found = new ArrayList<>();
        for (var r : TopicReader.readAll(kafka.bootstrapServers(), Topics.EVENTS)) {
            if (volumeId.equals(r.key())) {
                SpecificRecord e = MessageCodec.standard().decode(r.value());
                if (type.isInstance(e)) {
                    found.add(type.cast(e));
                }
            }
        }
        return found;
    }

    @Test
    void frozenSpmPastItsSessionThenThawed() throws Exception {
        faultDuringStream("kill -STOP / -CONT", spm -> {
            StorageBusProcess frozen = workers.get(spm);
            frozen.freeze();
            JsonObject before = spm();
            // Past the session timeout another host is SPM, while the frozen one still believes it is.
            await().atMost(WAIT).until(() -> { JsonObject now = spm(); return now != null && !now.getString("host").equals(spm); });
            await().atMost(WAIT).until(() -> readyCount() >= before.size());
            frozen.thaw();
        });
    }

    @Test
    void spmCutOffFromZooKeeperAndKafka() throws Exception {
        faultDuringStream("connections cut", spm -> {
            kafkaProxies.get(spm).cut();
            zkProxies.get(spm).forEach(TcpProxy::cut);
            await().atMost(WAIT).until(() -> { JsonObject now = spm(); return now != null && !now.getString("host").equals(spm); });
            kafkaProxies.get(spm).restore();
            zkProxies.get(spm).forEach(TcpProxy::restore);
        });
    }

    /**
     * The SPM cut off from Kafka alone, past its producer's 10 s limit, while it keeps its
     * ZooKeeper session and so its role: its transactions time out (a commit whose outcome is
     * unknown must be retried, not aborted), and once the connection is back it serves again.
     */
    @Test
    void spmCutOffFromKafkaOnlyKeepsItsRoleAndRecovers() throws Exception {
        faultDuringStream("Kafka cut", spm -> {
            long before = timeouts(spm);
            kafkaProxies.get(spm).cut();
            await().atMost(WAIT).until(() -> timeouts(spm) > before);
            kafkaProxies.get(spm).restore();
            assertEquals(spm, spm().getString("host"), "ZooKeeper kept the SPM's session, so it kept its role");
        });
    }

    /** Kafka timeouts the host has logged so far. */
    private long timeouts(String host) throws Exception {
        try (Stream<String> lines = Files.lines(workers.get(host).log())) {
            return lines.filter(l -> l.contains("TimeoutException") || l.contains("not confirmed yet")).count();
        }
    }

    @Test
    void kafkaBrokerRestarted() throws Exception {
        faultDuringStream("broker restart", spm -> {
            kafka.stop();
            kafka.start();
        });
    }

    @Test
    void zooKeeperNodeRestarted() throws Exception {
        faultDuringStream("ZooKeeper node restart", spm -> {
            InstanceSpec node = zk.getInstances().iterator().next();
            zk.killServer(node);
            zk.restartServer(node);
        });
    }

    /**
     * The kill and freeze cycle, again and again, for {@code storagebus.soak.seconds} (60 by
     * default; longer runs: -Dstoragebus.soak.seconds=600), with the stream of creates going on.
     */
    @Test
    void soakOfKillsAndFreezes() throws Exception {
        long seconds = Long.getLong("storagebus.soak.seconds", 60);
        long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        int kills = 0;
        int freezes = 0;
        try (CreateStream stream = new CreateStream()) {
            while (System.nanoTime() < deadline) {
                JsonObject spm = await().atMost(WAIT).until(this::spm, t -> t != null);
                String host = spm.getString("host");
                StorageBusProcess worker = workers.get(host);
                if ((kills + freezes) % 2 == 0) {
                    worker.kill();
                    kills++;
                } else {
                    worker.freeze();
                    freezes++;
                }
                await().atMost(WAIT).until(() -> { JsonObject now = spm(); return now != null && now.getLong("epoch") > spm.getLong("epoch"); });
                if (worker.alive()) {
                    worker.thaw();
                } else {
                    startWorker(host);
                }
                await().atMost(WAIT).until(() -> http.get("/api/v1/hosts").array().size() == HOSTS.size());
            }
            System.out.printf("soak: %d kills and %d freezes of the SPM in %d s, %d requests accepted, %d refused%n",
                    kills, freezes, seconds, accepted.size(), stream.refused);
        }
        assertInvariants();
        assertTrue(kills + freezes >= 2, "the soak must cycle at least twice");
    }

    interface Fault {
        void inject(String spmHost) throws Exception;
    }

    /** Creates volumes continuously, injects the fault into the SPM, then checks every invariant. */
    private void faultDuringStream(String name, Fault fault) throws Exception {
        int before = accepted.size();
        try (CreateStream stream = new CreateStream()) {
            await().atMost(WAIT).until(() -> accepted.size() >= before + 5);
            JsonObject spm = spm();
            long started = System.nanoTime();
            fault.inject(spm.getString("host"));
            int afterFault = accepted.size();
            await().atMost(WAIT).until(() -> accepted.size() >= afterFault + 5 && spm() != null);
            System.out.printf("%s: SPM %s (epoch %d) -> %s; %d requests accepted so far, %d refused while unavailable, %.1f s%n",
                    name, spm.getString("host"), spm.getLong("epoch"), spm(), accepted.size(), stream.refused,
                    (System.nanoTime() - started) / 1e9);
        }
        assertInvariants();
    }

    private void assertInvariants() throws Exception {
        // Every accepted request ends, READY or FAILED: one listing of the domain, until none is CREATING.
        Map<String, String> status = await().atMost(WAIT).until(() -> {
            Map<String, String> now = new HashMap<>();
            http.getAll("/api/v1/domains/" + domainId + "/volumes")
                    .forEach(v -> now.put(((JsonObject) v).getString("id"), ((JsonObject) v).getString("status")));
            return now;
        }, now -> accepted.stream().allMatch(id -> "READY".equals(now.get(id)) || "FAILED".equals(now.get(id))));
        // Exactly one outcome event each, matching the status.
        Map<String, Integer> created = new HashMap<>();
        Map<String, Integer> failed = new HashMap<>();
        for (var r : TopicReader.readAll(kafka.bootstrapServers(), Topics.EVENTS)) {
            SpecificRecord e = MessageCodec.standard().decode(r.value());
            if (e instanceof VolumeCreated c) {
                created.merge(c.getVolumeId(), 1, Integer::sum);
            } else if (e instanceof CommandFailed f && f.getVolumeId() != null) {
                failed.merge(f.getVolumeId(), 1, Integer::sum);
            }
        }
        for (String id : accepted) {
            boolean ready = status.get(id).equals("READY");
            assertEquals(ready ? 1 : 0, created.getOrDefault(id, 0), "VolumeCreated events of " + id);
            assertEquals(ready ? 0 : 1, failed.getOrDefault(id, 0), "CommandFailed events of " + id);
        }
        // The storage's epoch log never goes backwards.
        var log = DirectoryFence.log(images);
        for (int i = 1; i < log.size(); i++) {
            assertTrue(log.get(i).epoch() >= log.get(i - 1).epoch(), "epoch went back at entry " + i + ": " + log.get(i - 1) + " -> " + log.get(i));
        }
        // No orphans: the files are exactly the READY volumes, and no temporary file is left.
        Set<String> ready = status.entrySet().stream().filter(e -> e.getValue().equals("READY")).map(Map.Entry::getKey).collect(Collectors.toSet());
        try (Stream<Path> files = Files.list(images.resolve("volumes"))) {
            Set<String> names = files.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
            Set<String> expected = new java.util.HashSet<>();
            ready.forEach(id -> {
                expected.add(id + ".raw");
                expected.add(id + ".meta.json");
            });
            assertEquals(expected, names, "files of the domain");
        }
    }

    private long readyCount() {
        return accepted.stream().filter(id -> "READY".equals(http.get("/api/v1/volumes/" + id).json().getString("status"))).count();
    }

    private JsonObject spm() {
        Http.Response r = http.get("/api/v1/pools/default/spm");
        return r.status() == 200 ? r.json() : null;
    }

    /** Posts a create every 100 ms; remembers what the manager accepted. */
    private final class CreateStream implements AutoCloseable {
        private final Thread thread;
        private volatile boolean running = true;
        volatile int refused;

        CreateStream() {
            thread = new Thread(() -> {
                int n = 0;
                while (running) {
                    Http.Response r = http.post("/api/v1/domains/" + domainId + "/volumes",
                            new JsonObject().put("name", "s" + System.nanoTime() + "-" + n++).put("virtualSize", 1 << 20).put("format", "raw"));
                    if (r.status() == 202) {
                        accepted.add(r.json().getString("volumeId"));
                    } else {
                        refused++;
                    }
                    java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L);
                }
            }, "create-stream");
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(30_000);
        }
    }
}
