package io.storagebus.system;

import static io.storagebus.system.ThinVolumes.WAIT;
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
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.VolumeExtended;
import io.storagebus.testkit.QemuProcess;
import io.storagebus.worker.HostWorker;
import io.storagebus.worker.sim.SimulatedHosts;
import io.storagebus.worker.thin.ExtendPolicy;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Thin provisioning with a real QEMU: a qcow2 image on a blockfile volume (a loop device), the
 * worker watching it over QMP, writes through QEMU's block layer (qemu-io over HMP). Policy: 32
 * MiB chunks, reported when a quarter of a chunk (8 MiB) is left.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ThinProvisioningIT {
    private static final long MIB = Sizes.MIB;
    private static final ExtendPolicy POLICY = new ExtendPolicy(32 * MIB, 25, 0);
    private Cluster cluster;
    private Http http;
    private ThinVolumes thin;
    private String domainId;
    private Path tmp;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        assumeTrue(ThinVolumes.canRun(), "skipped: needs root, loop devices and " + QemuProcess.BINARY);
        this.tmp = tmp;
        thin = ThinVolumes.start(tmp, POLICY);
        cluster = thin.cluster;
        http = thin.http;
        domainId = thin.blockDomain("thin", tmp.resolve("thin"), null);
    }

    @AfterAll
    void stop() {
        if (thin != null) {
            thin.close();
        }
    }

    /**
     * The SPM stops while hosts' reports wait for it: the next SPM answers every one of them,
     * from the committed offsets of the watermark topic, and extends each volume exactly once.
     */
    @Test
    void spmFailoverInTheMiddleOfExtendsLosesNoReport() throws Exception {
        JsonObject domain = http.get("/api/v1/domains/" + domainId).json();
        DomainRef ref = DomainRef.newBuilder().setId(domainId).setDriver("blockfile")
                .setProperties(java.util.Map.of("path", domain.getJsonObject("properties").getString("path"))).build();
        List<SimulatedHosts.Volume> volumes = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            volumes.add(new SimulatedHosts.Volume(thin.thinVolume(domainId, "failover-" + i, 256 * MIB, 32 * MIB), ref, 32 * MIB));
        }
        Http.Response notPrepared = http.post("/api/v1/volumes/" + volumes.get(0).volumeId() + "/monitor",
                new JsonObject().put("qmpSocket", "/run/vm.sock").put("nodeName", "vol-file"));
        assertEquals(409, notPrepared.status(), notPrepared.body());
        assertEquals("NOT_PREPARED", notPrepared.json().getString("code"));
        HostWorker spm = cluster.spm().orElseThrow();
        try (SimulatedHosts sim = new SimulatedHosts(Cluster.POOL, cluster.kafka.bootstrapServers(), POLICY, MIB)
                .host("sim-1", volumes.subList(0, 50)).host("sim-2", volumes.subList(50, 100)).start()) {
            sim.crossAllThresholds();
            spm.close();
            cluster.workers.remove(spm);
            await().atMost(WAIT).until(sim::answeredVolumes, n -> n == volumes.size());
            cluster.startWorker(spm.hostId(), c -> c.withExtendPolicy(POLICY, Duration.ofMillis(500)));
        }
        for (SimulatedHosts.Volume v : volumes) {
            assertEquals(64 * MIB, java.nio.file.Files.size(thin.backingFile(v.volumeId())), "extended once by a chunk: " + v.volumeId());
        }
        await().atMost(WAIT).until(() -> http.get("/api/v1/hosts").array().size() == 2);
    }

    /**
     * A host vetoes maintenance of a domain while a guest there uses one of its volumes, naming
     * it; once the guest let the volume go, the same request passes and the host disconnects.
     */
    @Test
    void aHostVetoesMaintenanceWhileItsGuestUsesAVolume() throws Exception {
        String guarded = thin.blockDomain("guarded", tmp.resolve("guarded"), null);
        String volumeId = thin.thinVolume(guarded, "in-use", 256 * MIB, 32 * MIB);
        String device = thin.prepare(volumeId, "host-1");
        Path vm = tmp.resolve("vm-guarded");
        List<String> args = new ArrayList<>(List.of("-machine", "none"));
        args.addAll(ThinVolumes.volumeNodes(device));
        args.addAll(ThinVolumes.testMonitor(vm));
        QemuProcess guest = thin.qemu(vm, args);
        thin.monitor(volumeId, guest.qmpSocket(), "vol-file", "vol");
        try (ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t > 0);

            JsonObject aborted = maintenance(guarded, "ABORTED");
            JsonObject host1 = aborted.getJsonArray("voters").stream().map(JsonObject.class::cast)
                    .filter(v -> "host:host-1".equals(v.getString("subscriberId"))).findFirst().orElseThrow();
            assertEquals("VETO", host1.getString("vote"), aborted.encode());
            assertTrue(host1.getString("reason").contains(volumeId) && host1.getString("reason").contains(guest.qmpSocket().toString()),
                    host1.getString("reason"));
            assertEquals("ACTIVE", http.get("/api/v1/domains/" + guarded).json().getString("status"));

            assertEquals(202, http.delete("/api/v1/volumes/" + volumeId + "/monitor").status());
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t == 0);
            qmp.quit(guest);
        }
        maintenance(guarded, "COMPLETED");
        assertEquals("", ThinVolumes.loopDeviceOf(thin.backingFile(volumeId)), "host-1 let the volume go");
    }

    private JsonObject maintenance(String domainId, String outcome) {
        Http.Response requested = http.post("/api/v1/domains/" + domainId + "/maintenance",
                new JsonObject().put("reason", "move the array").put("deadlineSeconds", 60));
        assertEquals(202, requested.status(), requested.body());
        return await().atMost(WAIT).until(() -> http.get("/api/v1/domains/" + domainId + "/maintenance").json(),
                m -> outcome.equals(m.getString("status")));
    }

    @Test
    void aRestartedQemuIsWatchedAgain() throws Exception {
        String volumeId = thin.thinVolume(domainId, "restart", 256 * MIB, 32 * MIB);
        String device = thin.prepare(volumeId, "host-2");
        Path vm = tmp.resolve("vm-restart");
        List<String> args = new ArrayList<>(List.of("-machine", "none"));
        args.addAll(ThinVolumes.volumeNodes(device));
        args.addAll(ThinVolumes.testMonitor(vm));
        QemuProcess first = thin.qemu(vm, args);
        thin.monitor(volumeId, first.qmpSocket(), "vol-file", "vol");
        try (ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t == 24 * MIB);
        }
        first.kill();
        QemuProcess second = thin.qemu(vm, args);
        try (ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t == 24 * MIB);
            qmp.quit(second);
        }
        assertEquals(202, http.post("/api/v1/volumes/" + volumeId + "/teardown", new JsonObject()).status());
    }

    @Test
    void crossingTheWriteThresholdExtendsRefreshesAndReArms() throws Exception {
        String volumeId = thin.thinVolume(domainId, "threshold", 256 * MIB, 32 * MIB);
        String device = thin.prepare(volumeId, "host-1");
        assertEquals(32 * MIB, ThinVolumes.deviceSize(device));
        JsonObject lease = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getJsonObject("lease"),
                l -> l != null && l.containsKey("path"));
        assertEquals(device, Path.of(lease.getString("path")).toRealPath().toString(), "the volume says where a guest on host-1 opens it: " + lease);
        assertEquals(32 * MIB, lease.getLong("allocatedBytes"), lease.encode());
        assertFalse(lease.containsKey("lastExtendedAt"), lease.encode());
        Path vm = tmp.resolve("vm-threshold");
        List<String> args = new ArrayList<>(List.of("-machine", "none"));
        args.addAll(ThinVolumes.volumeNodes(device));
        args.addAll(ThinVolumes.testMonitor(vm));
        QemuProcess qemu = thin.qemu(vm, args);

        Http.Response bad = http.post("/api/v1/volumes/" + volumeId + "/monitor", new JsonObject().put("qmpSocket", "vm/qmp.sock").put("nodeName", "vol-file"));
        assertEquals("INVALID_PATH", bad.json().getString("code"), bad.body());
        bad = http.post("/api/v1/volumes/" + volumeId + "/monitor", new JsonObject().put("qmpSocket", "/run/qmp.sock").put("nodeName", "vol file"));
        assertEquals("nodeName", bad.json().getString("field"), bad.body());
        // A socket outside the host's QMP directory (worker.qmp-dir) is another service's: the host will not connect to it.
        assertEquals(202, http.post("/api/v1/volumes/" + volumeId + "/monitor", new JsonObject().put("qmpSocket", "/run/dbus/system_bus_socket")
                .put("nodeName", "vol-file")).status());
        io.storagebus.schema.CommandFailed refused = await().atMost(WAIT).until(() -> thin.events(io.storagebus.schema.CommandFailed.class,
                volumeId), e -> !e.isEmpty()).get(0);
        assertEquals("QMP_SOCKET_REFUSED", refused.getCode(), refused.toString());
        thin.monitor(volumeId, qemu.qmpSocket(), "vol-file", "vol");
        try (ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t == 24 * MIB);

            qmp.qemuIo("vol", "write -P 0x5a 0 28M");
            assertEquals(0, qmp.failedWrites("vol-file"));
            VolumeExtended extended = await().atMost(WAIT).until(() -> thin.events(VolumeExtended.class, volumeId), e -> !e.isEmpty()).get(0);
            assertEquals(32 * MIB, extended.getPreviousAllocation());
            assertEquals(64 * MIB, extended.getAllocation());
            assertEquals("host-1", extended.getHostId());
            assertFalse(extended.getResumed());
            assertEquals(64 * MIB, ThinVolumes.deviceSize(device), "the host refreshed its loop device");
            JsonObject extendedLease = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getJsonObject("lease"),
                    l -> l.getLong("allocatedBytes") == 64 * MIB);
            assertTrue(extendedLease.containsKey("lastExtendedAt"), "the volume says when it was last extended: " + extendedLease);
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t == 56 * MIB);

            // Past the old allocation: these writes would have failed with ENOSPC before.
            qmp.qemuIo("vol", "write -P 0x6b 28M 20M");
            assertEquals(0, qmp.failedWrites("vol-file"));
            assertEquals(202, http.delete("/api/v1/volumes/" + volumeId + "/monitor").status());
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t == 0);
            qmp.quit(qemu);
        }
        String data = ThinVolumes.output("qemu-io", "-f", "qcow2", "-r", "-c", "read -P 0x5a 0 28M", "-c", "read -P 0x6b 28M 20M", device);
        assertFalse(data.contains("verification failed"), data);
        assertTrue(data.contains("read 20971520/20971520 bytes at offset 29360128"), data);
        String check = ThinVolumes.output("qemu-img", "check", "-f", "qcow2", device);
        assertTrue(check.contains("No errors were found"), check);
        assertEquals(202, http.post("/api/v1/volumes/" + volumeId + "/teardown", new JsonObject()).status());
    }
}
