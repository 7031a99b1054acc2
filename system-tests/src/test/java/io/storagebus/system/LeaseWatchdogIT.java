package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import io.storagebus.driver.Sizes;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.GuestStopped;
import io.storagebus.schema.VolumeLeaseLost;
import io.storagebus.schema.VolumeLeaseTakenOver;
import io.storagebus.schema.VolumePrepared;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.testkit.QemuProcess;
import io.storagebus.testkit.StorageBusProcess;
import io.storagebus.testkit.TcpProxy;
import io.storagebus.worker.thin.ExtendPolicy;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lease watchdog, a process beside host-1's worker (itself a process here, so it can be
 * frozen or killed): a guest of a frozen or killed worker is frozen before the worker's ZooKeeper
 * session can expire and its lease be granted to host-2, and killed once the lease has surely
 * gone; a guest whose watchdog is killed is stopped by the worker until the watchdog is back; a
 * worker cut off from Kafka alone keeps its lease and its guest running.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LeaseWatchdogIT {
    private static final Duration WAIT = ThinVolumes.WAIT;
    private static final int SESSION_MS = 6000;
    private static final long MIB = Sizes.MIB;
    private static final Path LOGS = Path.of("target", "watchdog-logs");
    private ThinVolumes thin;
    private Http http;
    private Path tmp;
    private Path qmpDir;
    private Path watchdogDir;
    private StorageBusProcess worker;
    private StorageBusProcess watchdog;
    private TcpProxy host1Kafka;
    private TcpProxy host1ZooKeeper;
    private String domainId;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        assumeTrue(ThinVolumes.canRun() && ThinVolumes.nasmAvailable(), "skipped: needs root, loop devices, nasm and " + QemuProcess.BINARY);
        this.tmp = tmp;
        Files.createDirectories(LOGS);
        qmpDir = Files.createDirectories(tmp.resolve("qmp"));
        watchdogDir = Files.createDirectories(tmp.resolve("watchdog"));
        // host-1 reaches Kafka through a proxy of its own, so it alone can be cut off from it.
        EmbeddedKafka broker = new EmbeddedKafka(tmp.resolve("kafka"), 0);
        int host1Port = EmbeddedKafka.freePort();
        host1Kafka = new TcpProxy("127.0.0.1", host1Port);
        broker.addListener("HOST_1", host1Port, host1Kafka.port());
        broker.start();
        Cluster cluster = new Cluster(new KafkaFixture() {
            @Override
            public String bootstrapServers() {
                return broker.bootstrapServers();
            }

            @Override
            public void close() {
                broker.close();
            }
        }, tmp);
        cluster.startWorker("host-2", c -> c.withExtendPolicy(new ExtendPolicy(16 * MIB, 0, 0), Duration.ofMillis(500)));
        http = new Http(cluster.startManager().baseUrl());
        thin = ThinVolumes.on(cluster, http);
        Path dist = Path.of(System.getProperty("storagebus.dist"));
        watchdog = StorageBusProcess.watchdog(dist, watchdogDir, SESSION_MS, LOGS).start();
        String zk = cluster.zooKeeper.connectString();
        host1ZooKeeper = new TcpProxy("127.0.0.1", Integer.parseInt(zk.substring(zk.lastIndexOf(':') + 1)));
        worker = StorageBusProcess.worker(dist, "host-1", host1Kafka.address(), host1ZooKeeper.address(), SESSION_MS,
                LOGS, Map.of("JAVA_TOOL_OPTIONS", "-Dstoragebus.blockfile.run-dir=" + tmp.resolve("run-host-1")), List.of("--worker.watchdog-dir", watchdogDir.toString(), "--worker.qmp-dir", qmpDir.toString(),
                        "--extend.chunk-mb", "16", "--extend.free-percent", "0", "--extend.chunk-seconds", "0")).start();
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200 && http.get("/api/v1/hosts").array().size() == 2);
        domainId = thin.blockDomain("watchdog", tmp.resolve("block"), null);
    }

    @AfterAll
    void stop() throws Exception {
        if (worker != null) {
            worker.thaw();
            worker.close();
        }
        if (watchdog != null) {
            watchdog.close();
        }
        if (thin != null) {
            thin.close();
        }
        if (host1Kafka != null) {
            host1Kafka.close();
        }
        if (host1ZooKeeper != null) {
            host1ZooKeeper.close();
        }
    }

    @Test
    @Order(1)
    void aGuestStopsWhenTheWatchdogIsKilledAndRunsAgainWhenItIsBack() throws Exception {
        Guest guest = runningGuest("no-watchdog");
        watchdog.kill();
        GuestStopped stopped = await().atMost(WAIT).until(() -> thin.events(GuestStopped.class, guest.volumeId), e -> !e.isEmpty()).get(0);
        assertTrue(stopped.getReason().contains("watchdog"), stopped.getReason());
        assertEquals("paused", guest.qmp.status(), "no guest runs on a host whose watchdog is gone");
        watchdog.start();
        await().atMost(WAIT).until(() -> guest.qmp.status(), "running"::equals);
        await().atMost(WAIT).until(() -> thin.events(GuestResumed.class, guest.volumeId).size() == 1);
        assertEquals(202, http.post("/api/v1/volumes/" + guest.volumeId + "/teardown", new JsonObject()).status());
        await().atMost(WAIT).until(() -> !Files.exists(watchdogDir.resolve(guest.volumeId + ".lease")));
        guest.close();
    }

    @Test
    @Order(2)
    void aWorkerCutOffFromKafkaOnlyKeepsItsLeaseAndItsGuestRunning() throws Exception {
        Guest guest = runningGuest("no-kafka");
        host1Kafka.cut();
        try {
            // Three session timeouts without Kafka: the lease is ZooKeeper's, and ZooKeeper is there.
            await().during(Duration.ofMillis(3L * SESSION_MS)).atMost(Duration.ofMillis(4L * SESSION_MS))
                    .until(() -> processState(guest.qemu.pid()).matches("[RS]") && "running".equals(guest.qmp.status()));
            assertEquals("host-1", http.get("/api/v1/volumes/" + guest.volumeId).json().getJsonObject("lease").getString("host"));
        } finally {
            host1Kafka.restore();
        }
        assertTrue(thin.events(GuestStopped.class, guest.volumeId).isEmpty(), "nothing stopped the guest");
        assertEquals(202, http.post("/api/v1/volumes/" + guest.volumeId + "/teardown", new JsonObject()).status());
        await().atMost(WAIT).until(() -> !Files.exists(watchdogDir.resolve(guest.volumeId + ".lease")));
        guest.close();
    }

    @Test
    @Order(3)
    void aKilledWorkersGuestIsFrozenByItsDeadlineAndKilledOnceTheLeaseHasGone() throws Exception {
        Guest guest = runningGuest("killed-worker");
        long killedAt = System.currentTimeMillis();
        worker.kill();
        try {
            await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> processState(guest.qemu.pid()), "T"::equals);
            System.out.println("worker killed -> its guest frozen by the watchdog: " + (System.currentTimeMillis() - killedAt) + " ms");
            assertTrue(guest.qemu.awaitExit(WAIT), "the watchdog kills the guest once its lease has surely expired");
            System.out.println("worker killed -> its guest killed: " + (System.currentTimeMillis() - killedAt) + " ms");
            await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + guest.volumeId).json().getValue("lease") == null);
        } finally {
            worker.start();
        }
        guest.close();
    }

    @Test
    @Order(4)
    void aFrozenWorkersGuestIsFrozenBeforeTheLeaseCanMoveAndKilledOnceItHas() throws Exception {
        Guest guest = runningGuest("frozen-worker", true);
        Path image = thin.backingFile(guest.volumeId);
        String before = ThinVolumes.sha256(image);
        await().atMost(WAIT).until(() -> !ThinVolumes.sha256(image).equals(before)); // the guest writes
        long frozenAt = System.currentTimeMillis();
        worker.freeze();
        try {
            await().atMost(WAIT).pollInterval(Duration.ofMillis(20)).until(() -> processState(guest.qemu.pid()), "T"::equals);
            long guestFrozenAt = System.currentTimeMillis();
            System.out.println("worker frozen -> its guest frozen by the watchdog: " + (guestFrozenAt - frozenAt) + " ms");

            // host-1's session expires: its lease goes, and host-2 may take the volume.
            await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + guest.volumeId).json().getValue("lease") == null);
            List<String> waitingFor = new CopyOnWriteArrayList<>();
            thin.prepare(guest.volumeId, "host-2", task -> Optional.ofNullable(task.getString("message")).ifPresent(waitingFor::add));
            String whenHost2GotIt = ThinVolumes.sha256(image);
            VolumePrepared second = thin.events(VolumePrepared.class, guest.volumeId).stream().filter(p -> p.getHostId().equals("host-2"))
                    .findFirst().orElseThrow();
            // host-1 never gave the lease back: host-2 waits out host-1's guard (its watchdog's deadline) before using it.
            VolumeLeaseTakenOver takeover = await().atMost(WAIT).until(() -> thin.events(VolumeLeaseTakenOver.class, guest.volumeId).stream()
                    .filter(t -> t.getHostId().equals("host-2")).findFirst(), Optional::isPresent).orElseThrow();
            assertEquals("host-1", takeover.getPreviousHostId(), takeover.toString());
            assertEquals(SESSION_MS / 2 + 100, takeover.getPreviousGuardMillis(), "host-1's guard: half its session timeout and a watchdog tick");
            assertEquals(SESSION_MS / 2 + 100 + 1000, takeover.getWaitMillis(), "the guard and the margin");
            assertTrue(!second.getEnvelope().getTimestamp().isBefore(takeover.getUsableAt()), "host-2 used the volume at "
                    + second.getEnvelope().getTimestamp() + ", not before " + takeover.getUsableAt());
            assertTrue(waitingFor.stream().anyMatch(m -> m.contains("host-1") && m.contains("waiting")), "the task said what it waited for: "
                    + waitingFor);
            System.out.println("worker frozen -> host-2 waited " + takeover.getWaitMillis() + " ms for host-1's lease: " + waitingFor.get(0));
            assertTrue(guestFrozenAt < second.getEnvelope().getTimestamp().toEpochMilli(), "host-1's guest was frozen at " + guestFrozenAt
                    + ", before host-2 got the volume at " + second.getEnvelope().getTimestamp());
            System.out.println("worker frozen -> volume prepared on host-2: " + (second.getEnvelope().getTimestamp().toEpochMilli() - frozenAt)
                    + " ms");
            assertTrue(guest.qemu.awaitExit(WAIT), "the watchdog kills the guest once its lease has surely expired");
            System.out.println("worker frozen -> its guest killed: " + (System.currentTimeMillis() - frozenAt) + " ms");
            assertEquals(whenHost2GotIt, ThinVolumes.sha256(image), "host-1's guest wrote nothing after host-2 got the volume");
        } finally {
            worker.thaw();
        }
        guest.close();
    }

    /**
     * Forced lease losses under writes: host-1, cut off from ZooKeeper alone, stops its writing
     * guest and loses the lease; host-2 gets the volume; the image does not change from then on
     * until host-1's QEMU is gone. {@code storagebus.soak.lease-losses} times (3 in CI).
     */
    @Test
    @Order(5)
    void forcedLeaseLossesUnderWritesNeverOverlapTwoWriters() throws Exception {
        int losses = Integer.getInteger("storagebus.soak.lease-losses", 3);
        int overlaps = 0;
        long slowestStop = 0;
        for (int i = 0; i < losses; i++) {
            Guest guest = runningGuest("soak-" + i, true);
            Path image = thin.backingFile(guest.volumeId);
            String before = ThinVolumes.sha256(image);
            await().atMost(WAIT).until(() -> !ThinVolumes.sha256(image).equals(before));
            host1ZooKeeper.cut();
            try {
                GuestStopped stopped = await().atMost(WAIT).until(() -> thin.events(GuestStopped.class, guest.volumeId), e -> !e.isEmpty()).get(0);
                slowestStop = Math.max(slowestStop, stopped.getStopMillis());
                await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + guest.volumeId).json().getValue("lease") == null);
                // Both hosts run on this one machine and share its loop devices: host-1 lets go of its own
                // (VolumeLeaseLost) before host-2 attaches one, which separate machines would not need.
                await().atMost(WAIT).until(() -> thin.events(VolumeLeaseLost.class, guest.volumeId), e -> !e.isEmpty());
                thin.prepare(guest.volumeId, "host-2");
                String whenHost2GotIt = ThinVolumes.sha256(image);
                // Stopped over QMP, then frozen and killed by the watchdog once the lease has surely gone.
                assertTrue(guest.qemu.awaitExit(WAIT), "host-1's guest is killed once its lease has gone");
                if (!whenHost2GotIt.equals(ThinVolumes.sha256(image))) {
                    overlaps++;
                }
            } finally {
                host1ZooKeeper.restore();
            }
            guest.close();
            assertEquals(202, http.post("/api/v1/volumes/" + guest.volumeId + "/teardown", new JsonObject()).status());
        }
        System.out.printf("soak: %d forced lease losses under writes, %d overlaps of two writers, slowest guest stop %d ms%n", losses,
                overlaps, slowestStop);
        assertEquals(0, overlaps);
    }

    /** A running guest (its firmware: nothing boots from the blank disk) on a volume prepared and watched on host-1. */
    private Guest runningGuest(String name) throws Exception {
        return runningGuest(name, false);
    }

    /** {@code writing}: the guest writes its first 8 MiB for ever, a new byte every pass (guest/writer.asm built FOREVER). */
    private Guest runningGuest(String name, boolean writing) throws Exception {
        await().atMost(WAIT).until(() -> thin.cluster.manager.isActive() && http.get("/api/v1/hosts").array().size() == 2);
        String volumeId = thin.thinVolume(domainId, name, 64 * MIB, 32 * MIB);
        String device = thin.prepare(volumeId, "host-1");
        Path vm = qmpDir.resolve("vm-" + name);
        List<String> args = new ArrayList<>(writing ? ThinVolumes.writingForeverGuest(vm, device, 8 * MIB) : ThinVolumes.idleGuest(device));
        args.addAll(ThinVolumes.testMonitor(vm));
        QemuProcess qemu = thin.qemu(vm, args);
        thin.monitor(volumeId, qemu.qmpSocket(), "vol-file", "vol");
        ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"));
        await().atMost(WAIT).until(() -> Files.exists(watchdogDir.resolve(volumeId + ".lease")));
        assertEquals("running", qmp.status());
        return new Guest(volumeId, qemu, qmp);
    }

    /** The state letter of /proc/PID/stat: R, S, D, T (stopped by a signal), Z. */
    private static String processState(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }

    private record Guest(String volumeId, QemuProcess qemu, ThinVolumes.TestQmp qmp) implements AutoCloseable {
        @Override
        public void close() {
            qmp.close();
            qemu.close();
        }
    }
}
