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
import io.storagebus.schema.CapacityAlert;
import io.storagebus.schema.CapacityLevel;
import io.storagebus.schema.GuestPaused;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.VolumeExtendFailed;
import io.storagebus.schema.VolumeExtended;
import io.storagebus.testkit.QemuProcess;
import io.storagebus.worker.thin.ExtendPolicy;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guests paused for real: a PC whose boot sector writes 40 MiB through an emulated IDE disk
 * (werror=stop) on a thin volume. The policy leaves no headroom (the threshold is the end of the
 * allocation), so every chunk boundary is a real ENOSPC and QEMU stops the guest; the worker must
 * get the volume extended and resume it, and the guest must finish with every byte written.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GuestPauseIT {
    private static final long MIB = Sizes.MIB;
    private static final long WRITTEN = 40 * MIB;
    private Http http;
    private ThinVolumes thin;
    private Path tmp;
    private String domainId;

    @BeforeAll
    void start(@TempDir Path tmp) throws Exception {
        assumeTrue(ThinVolumes.canRun() && ThinVolumes.nasmAvailable(), "skipped: needs root, loop devices, nasm and " + QemuProcess.BINARY);
        this.tmp = tmp;
        thin = ThinVolumes.start(tmp, new ExtendPolicy(16 * MIB, 0, 0));
        http = thin.http;
        domainId = thin.blockDomain("pause", tmp.resolve("pause"), null);
    }

    @AfterAll
    void stop() {
        if (thin != null) {
            thin.close();
        }
    }

    @Test
    void aGuestPausedOnAFullVolumeIsResumedAfterEachExtendAndFinishes() throws Exception {
        String volumeId = thin.thinVolume(domainId, "live", 64 * MIB, 16 * MIB);
        String device = thin.prepare(volumeId, "host-1");
        Path vm = tmp.resolve("vm-live");
        QemuProcess qemu = writerGuest(vm, device, true);
        thin.monitor(volumeId, qemu.qmpSocket(), "vol-file", "vol");
        try (ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t == 16 * MIB);
            qmp.execute("cont", null);
            assertTrue(qemu.awaitExit(Duration.ofMinutes(3)), "the guest finished writing");
            assertPoweredOff(qmp);
            assertTrue(qmp.events.stream().anyMatch(e -> "BLOCK_IO_ERROR".equals(e.getString("event"))
                    && e.getJsonObject("data").getBoolean("nospace", false)), "QEMU paused the guest on ENOSPC: " + qmp.events);
        }
        assertGuestWroteEverything(device);

        List<GuestPaused> paused = thin.events(GuestPaused.class, volumeId);
        List<GuestResumed> resumed = thin.events(GuestResumed.class, volumeId);
        assertFalse(paused.isEmpty(), "pauses are reported");
        assertTrue(paused.stream().allMatch(GuestPaused::getNospace));
        assertEquals(paused.size(), resumed.size(), "every pause was resumed");
        assertTrue(resumed.stream().allMatch(GuestResumed::getPauseStartKnown), "the host saw each pause happen: " + resumed);
        assertTrue(thin.events(VolumeExtended.class, volumeId).stream().anyMatch(VolumeExtended::getResumed));
        assertTrue(ThinVolumes.deviceSize(device) >= WRITTEN, "the volume grew to hold what was written");
        teardown(volumeId);
    }

    @Test
    void aGuestFoundPausedWhenFirstWatchedIsResumed() throws Exception {
        String volumeId = thin.thinVolume(domainId, "found", 64 * MIB, 16 * MIB);
        String device = thin.prepare(volumeId, "host-2");
        Path vm = tmp.resolve("vm-found");
        QemuProcess qemu = writerGuest(vm, device, false);
        try (ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            await().atMost(WAIT).until(qmp::status, "io-error"::equals);
            thin.monitor(volumeId, qemu.qmpSocket(), "vol-file", "vol");
            assertTrue(qemu.awaitExit(Duration.ofMinutes(3)), "the guest was resumed and finished writing");
            assertPoweredOff(qmp);
        }
        assertGuestWroteEverything(device);
        assertEquals("found paused on a full volume", thin.events(GuestPaused.class, volumeId).get(0).getReason());
        GuestResumed first = await().atMost(WAIT).until(() -> thin.events(GuestResumed.class, volumeId), r -> !r.isEmpty()).get(0);
        assertFalse(first.getPauseStartKnown(), "QEMU does not say when a guest found paused stopped: " + first);
        teardown(volumeId);
    }

    /**
     * 8 MiB left where the policy asks for 16: the SPM gives the volume those 8 (a partial
     * extend, said in VolumeExtended and a SHORT CapacityAlert), the guest writes on to 24 MiB,
     * and then, with nothing left, its extend fails with a CapacityAlert and it stays paused.
     */
    @Test
    void aDomainShortOfAChunkGivesWhatItHasThenTheGuestStaysPausedWithACapacityAlert() throws Exception {
        String small = thin.blockDomain("small", tmp.resolve("small"), "24M");
        String volumeId = thin.thinVolume(small, "cramped", 64 * MIB, 16 * MIB);
        String device = thin.prepare(volumeId, "host-1");
        Path vm = tmp.resolve("vm-cramped");
        QemuProcess qemu = writerGuest(vm, device, true);
        thin.monitor(volumeId, qemu.qmpSocket(), "vol-file", "vol");
        try (ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            await().atMost(WAIT).until(() -> qmp.writeThreshold("vol-file"), t -> t == 16 * MIB);
            qmp.execute("cont", null);

            VolumeExtended partial = await().atMost(WAIT).until(() -> thin.events(VolumeExtended.class, volumeId),
                    l -> !l.isEmpty()).get(0);
            assertTrue(partial.getPartial(), partial.toString());
            assertEquals(24 * MIB, partial.getAllocation());
            assertEquals(32 * MIB, partial.getRequestedAllocation());

            VolumeExtendFailed failed = await().atMost(WAIT).until(() -> thin.events(VolumeExtendFailed.class, volumeId),
                    l -> !l.isEmpty()).get(0);
            assertEquals("NO_SPACE", failed.getCode());
            assertEquals(24 * MIB, failed.getAllocation());
            // The threshold report and the pause right after it are both answered; the growth is told once.
            assertEquals(1, thin.events(VolumeExtended.class, volumeId).size(), thin.events(VolumeExtended.class, volumeId).toString());
            // The threshold report fails first; the pause that follows is reported again, and refused again.
            CapacityAlert alert = await().atMost(WAIT).until(() -> thin.events(CapacityAlert.class, small).stream()
                    .filter(a -> a.getMessage().contains("its guest is paused")).findFirst().orElse(null), a -> a != null);
            assertEquals(volumeId, alert.getVolumeId());
            assertEquals(CapacityLevel.SHORT, alert.getLevel());
            assertEquals(0, alert.getFreeBytes());
            assertEquals(16 * MIB, alert.getNeededBytes());
            assertTrue(thin.events(CapacityAlert.class, small).stream()
                    .anyMatch(a -> a.getLevel() == CapacityLevel.SHORT && a.getNeededBytes() == 8 * MIB), "the partial extend's alert");

            assertEquals("io-error", qmp.status(), "the guest stays paused");
            assertTrue(qemu.isAlive());
            assertTrue(thin.events(GuestPaused.class, volumeId).stream().anyMatch(GuestPaused::getNospace), "the pause is reported");
            assertEquals(24 * MIB, ThinVolumes.deviceSize(device));

            // What an operator reads: the SPM's view of the domain, through the manager.
            JsonObject capacity = await().atMost(WAIT).until(() -> http.get("/api/v1/domains/" + small).json().getJsonObject("capacity"),
                    c -> c != null && c.getLong("freeBytes") == 0);
            assertEquals("SHORT", capacity.getString("level"), capacity.encode());
            assertTrue(capacity.getString("forecastBy").startsWith("host:"), capacity.encode());
            assertTrue(capacity.getLong("demandBytesPerSecond") > 0, capacity.encode());
            assertEquals(0, capacity.getLong("secondsToFull"), capacity.encode());
        }
        qemu.kill();
        teardown(volumeId);
    }

    /** The writer guest on the device; held at its first instruction until {@code cont} when {@code held}. */
    private QemuProcess writerGuest(Path vm, String device, boolean held) throws Exception {
        List<String> args = new ArrayList<>(ThinVolumes.writerGuest(vm, device, WRITTEN));
        args.addAll(ThinVolumes.testMonitor(vm));
        if (held) {
            args.add("-S");
        }
        return thin.qemu(vm, args);
    }

    private void teardown(String volumeId) {
        assertEquals(202, http.post("/api/v1/volumes/" + volumeId + "/teardown", new JsonObject()).status());
    }

    /** The guest powers off when every write succeeded; a failed write makes it exit without SHUTDOWN. */
    private static void assertPoweredOff(ThinVolumes.TestQmp qmp) {
        assertTrue(qmp.events.stream().anyMatch(e -> "SHUTDOWN".equals(e.getString("event"))
                && e.getJsonObject("data").getBoolean("guest", false)), "the guest powered off after its last write: " + qmp.events);
    }

    private static void assertGuestWroteEverything(String device) throws Exception {
        String data = ThinVolumes.output("qemu-io", "-f", "qcow2", "-r", "-c", "read -P 0xa5 0 " + WRITTEN, device);
        assertFalse(data.contains("verification failed"), data);
        assertTrue(data.contains("read " + WRITTEN + "/" + WRITTEN + " bytes"), data);
        String check = ThinVolumes.output("qemu-img", "check", "-f", "qcow2", device);
        assertTrue(check.contains("No errors were found"), check);
    }
}
