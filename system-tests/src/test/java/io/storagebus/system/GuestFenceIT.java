package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.driver.Sizes;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.GuestStopped;
import io.storagebus.schema.VolumeLeaseLost;
import io.storagebus.schema.VolumePrepared;
import io.storagebus.testkit.QemuProcess;
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
 * A guest never writes once its volume's lease may be granted elsewhere: with real QEMUs on
 * loop devices, ZooKeeper taken away from the host holding the lease. While the session is in
 * doubt the guest is stopped (QMP); a session that survives lets it run again; a lost one keeps
 * it stopped, and the next host prepares the volume only after the stop; a QEMU that does not
 * answer is killed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class GuestFenceIT {
    private static final Duration WAIT = ThinVolumes.WAIT;
    private static final long MIB = Sizes.MIB;
    private ThinVolumes thin;
    private Http http;
    private Path tmp;
    private String domainId;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        assumeTrue(ThinVolumes.canRun(), "skipped: needs root, loop devices and " + QemuProcess.BINARY);
        this.tmp = tmp;
        thin = ThinVolumes.start(tmp, new ExtendPolicy(16 * MIB, 0, 0));
        http = thin.http;
        domainId = thin.blockDomain("fence", tmp.resolve("fence"), null);
    }

    @AfterAll
    void stop() {
        if (thin != null) {
            thin.close();
        }
    }

    @Test
    @Order(1)
    void aGuestStopsWhileItsLeaseIsInDoubtAndRunsAgainWhenTheSessionSurvives() throws Exception {
        Guest guest = runningGuest("blip");
        thin.cluster.zooKeeper.stop();
        try {
            GuestStopped stopped = await().atMost(WAIT).until(() -> thin.events(GuestStopped.class, guest.volumeId), e -> !e.isEmpty()).get(0);
            assertEquals("host-1", stopped.getHostId());
            assertFalse(stopped.getKilled(), "QEMU answered stop");
            assertEquals("paused", guest.qmp.status(), "the guest does not run while the lease is in doubt");
            System.out.println("lease in doubt -> guest stopped: " + stopped.getStopMillis() + " ms");
        } finally {
            thin.cluster.zooKeeper.start();
        }
        await().atMost(WAIT).until(() -> guest.qmp.status(), "running"::equals);
        GuestResumed resumed = await().atMost(WAIT).until(() -> thin.events(GuestResumed.class, guest.volumeId), e -> !e.isEmpty()).get(0);
        assertTrue(resumed.getPauseStartKnown());
        System.out.println("session survived -> guest running again, stopped for " + resumed.getPausedMillis() + " ms");
        assertEquals("host-1", http.get("/api/v1/volumes/" + guest.volumeId).json().getJsonObject("lease").getString("host"),
                "the session survived, and the lease with it");
        assertTrue(thin.events(VolumeLeaseLost.class, guest.volumeId).isEmpty());
        awaitActiveManager();
        assertEquals(202, http.post("/api/v1/volumes/" + guest.volumeId + "/teardown", new JsonObject()).status());
        guest.close();
    }

    @Test
    @Order(2)
    void aLostLeaseKeepsTheGuestStoppedAndAnotherHostGetsTheVolumeOnlyAfterTheStop() throws Exception {
        Guest guest = runningGuest("lost");
        thin.cluster.zooKeeper.stop();
        try {
            await().atMost(WAIT).until(() -> thin.events(GuestStopped.class, guest.volumeId), e -> !e.isEmpty());
            // Away for longer than the 6 s session timeout: the session, and the lease, end.
            VolumeLeaseLost lost = await().atMost(WAIT).until(() -> thin.events(VolumeLeaseLost.class, guest.volumeId), e -> !e.isEmpty()).get(0);
            assertEquals("host-1", lost.getHostId());
        } finally {
            thin.cluster.zooKeeper.start();
        }
        assertEquals("paused", guest.qmp.status(), "a guest whose lease was lost stays stopped");
        await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + guest.volumeId).json().getValue("lease") == null);

        awaitActiveManager();
        thin.prepare(guest.volumeId, "host-2");
        VolumePrepared second = thin.events(VolumePrepared.class, guest.volumeId).stream().filter(p -> p.getHostId().equals("host-2"))
                .findFirst().orElseThrow();
        JsonObject stop = guest.qmp.events.stream().filter(e -> "STOP".equals(e.getString("event"))).findFirst()
                .orElseThrow(() -> new AssertionError("QEMU never said STOP: " + guest.qmp.events));
        assertTrue(guest.qmp.events.stream().noneMatch(e -> "RESUME".equals(e.getString("event"))), "never resumed: " + guest.qmp.events);
        long stoppedAtMillis = stop.getLong("timestampMillis");
        assertTrue(stoppedAtMillis < second.getEnvelope().getTimestamp().toEpochMilli(), "host-1's guest stopped at " + stoppedAtMillis
                + ", before host-2 got the volume at " + second.getEnvelope().getTimestamp());
        assertEquals("paused", guest.qmp.status());
        guest.close();
    }

    @Test
    @Order(3)
    void aQemuThatDoesNotAnswerStopIsKilled() throws Exception {
        Guest guest = runningGuest("frozen");
        ThinVolumes.run("kill", "-STOP", Long.toString(guest.qemu.pid()));
        thin.cluster.zooKeeper.stop();
        try {
            GuestStopped stopped = await().atMost(WAIT).until(() -> thin.events(GuestStopped.class, guest.volumeId), e -> !e.isEmpty()).get(0);
            assertTrue(stopped.getKilled(), "a frozen QEMU cannot answer stop: it was killed; " + stopped);
            assertTrue(guest.qemu.awaitExit(WAIT), "QEMU is gone");
            System.out.println("lease in doubt -> frozen QEMU killed: " + stopped.getStopMillis() + " ms");
        } finally {
            thin.cluster.zooKeeper.start();
        }
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
    }

    /** A running guest (its firmware: nothing boots from the blank disk) on a thin volume prepared and watched on host-1. */
    private Guest runningGuest(String name) throws Exception {
        awaitActiveManager();
        String volumeId = thin.thinVolume(domainId, name, 64 * MIB, 32 * MIB);
        String device = thin.prepare(volumeId, "host-1");
        Path vm = tmp.resolve("vm-" + name);
        List<String> args = new ArrayList<>(ThinVolumes.idleGuest(device));
        args.addAll(ThinVolumes.testMonitor(vm));
        QemuProcess qemu = thin.qemu(vm, args);
        thin.monitor(volumeId, qemu.qmpSocket(), "vol-file", "vol");
        ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"));
        await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t > 0);
        assertEquals("running", qmp.status());
        return new Guest(volumeId, qemu, qmp);
    }

    /** The manager, cut off from ZooKeeper by a test, may still be electing itself again. */
    private void awaitActiveManager() {
        await().atMost(WAIT).until(() -> thin.cluster.manager.isActive() && http.get("/api/v1/health").status() == 200);
    }

    private record Guest(String volumeId, QemuProcess qemu, ThinVolumes.TestQmp qmp) implements AutoCloseable {
        @Override
        public void close() {
            qmp.close();
            qemu.close();
        }
    }
}
