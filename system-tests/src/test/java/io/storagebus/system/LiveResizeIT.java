package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.created;
import static io.storagebus.system.VolumeSteps.dataOf;
import static io.storagebus.system.VolumeSteps.output;
import static io.storagebus.system.VolumeSteps.run;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.storagebus.schema.VolumeResized;
import io.storagebus.testkit.QemuProcess;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Growing a running guest's disk through the REST API with a real QEMU: the SPM makes room, the
 * host grows the disk through QMP ({@code block_resize}), the guest sees the new size at once and
 * writes past the old end, and the size is recorded; on block storage the host's device is
 * refreshed first. A volume prepared with no guest on it grows too, by the SPM.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveResizeIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final String HOST = "host-1";
    /** qemu-io through the guest's disk device. */
    private static final String GUEST_DISK = "-d /machine/peripheral/disk0/virtio-backend";

    private Cluster cluster;
    private Http http;
    private VolumeSteps steps;
    private Path tmp;
    private String fileDomain;
    private String blockDomain;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        assumeTrue(ThinVolumes.canRun(), "skipped: needs root, loop devices and " + QemuProcess.BINARY);
        tmp = dir;
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker(HOST);
        http = new Http(cluster.startManager().baseUrl());
        steps = new VolumeSteps(http, cluster.kafka.bootstrapServers(), WAIT);
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        fileDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "files").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("files")).toString()))));
        blockDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "blocks").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("blocks")).toString()))));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster);
    }

    @Test
    void aRunningGuestsQcow2DiskGrowsAndTheGuestWritesPastTheOldEnd() throws Exception {
        String id = volume(fileDomain, "live-qcow2", 32 * MIB, "qcow2");
        String path = steps.prepare(id, HOST);
        try (WatchedGuest guest = WatchedGuest.start(http, id, WatchedGuest.qcow2File(path), tmp.resolve("qcow2-vm"))) {
            guest.qmp().qemuIo(GUEST_DISK, "write -P 0xa1 0 1M");
            assertEquals(32 * MIB, guest.diskSize());

            String taskId = resize(id, 64 * MIB);
            steps.awaitTask(taskId, "SUCCEEDED");
            assertEquals(64 * MIB, guest.diskSize(), "the running guest sees the new size");
            guest.qmp().qemuIo(GUEST_DISK, "write -P 0xc3 63M 1M");
            guest.qmp().qemuIo(GUEST_DISK, "read -P 0xa1 0 1M");
            assertEquals(0, guest.qmp().failedWrites("vol"), "no write of the guest failed");
            assertLiveResized(id, taskId, 32 * MIB, 64 * MIB);
            guest.quit();
        }
        Path image = dataOf(http.get("/api/v1/volumes/" + id).json());
        assertTrue(output("qemu-img", "info", "--output=json", image.toString()).contains("\"virtual-size\": " + 64 * MIB));
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0xc3 63M 1M", image.toString());
        run("qemu-img", "check", image.toString());
        teardown(id);
    }

    @Test
    void aRunningGuestsRawDiskOnBlockStorageGrowsAfterItsDeviceIsRefreshed() throws Exception {
        String id = volume(blockDomain, "live-raw", 16 * MIB, "raw");
        String device = steps.prepare(id, HOST);
        assertTrue(Path.of(device).toRealPath().toString().startsWith("/dev/loop"), "a blockfile volume is used through a loop device: " + device);
        try (WatchedGuest guest = WatchedGuest.start(http, id, WatchedGuest.rawDevice(device), tmp.resolve("raw-vm"))) {
            guest.qmp().qemuIo(GUEST_DISK, "write -P 0xb2 0 1M");

            String taskId = resize(id, 32 * MIB);
            steps.awaitTask(taskId, "SUCCEEDED");
            assertEquals(32 * MIB, ThinVolumes.deviceSize(device), "the host's device was refreshed to the room the SPM made");
            assertEquals(32 * MIB, guest.diskSize(), "the running guest sees the new size");
            guest.qmp().qemuIo(GUEST_DISK, "write -P 0xd4 31M 1M");
            guest.qmp().qemuIo(GUEST_DISK, "read -P 0xb2 0 1M");
            assertEquals(0, guest.qmp().failedWrites("vol"), "no write of the guest failed");
            assertLiveResized(id, taskId, 16 * MIB, 32 * MIB);
            guest.quit();
        }
        run("qemu-io", "-f", "raw", "-c", "read -P 0xd4 31M 1M", dataOf(http.get("/api/v1/volumes/" + id).json()).toString());
        teardown(id);
    }

    /** Prepared, but no guest the host watches: the host says so and the SPM grows the image itself. */
    @Test
    void aPreparedVolumeWithoutAGuestGrowsByTheSpm() throws Exception {
        String id = volume(fileDomain, "prepared-idle", 8 * MIB, "qcow2");
        steps.prepare(id, HOST);
        String taskId = resize(id, 24 * MIB);
        steps.awaitTask(taskId, "SUCCEEDED");
        VolumeResized event = resizedBy(taskId);
        assertEquals(false, event.getLive(), "no guest grew it");
        assertEquals(24 * MIB, event.getVirtualSize());
        Path image = dataOf(http.get("/api/v1/volumes/" + id).json());
        assertTrue(output("qemu-img", "info", "--output=json", image.toString()).contains("\"virtual-size\": " + 24 * MIB));
        teardown(id);
    }

    private void assertLiveResized(String id, String taskId, long before, long after) throws Exception {
        VolumeResized event = resizedBy(taskId);
        assertTrue(event.getLive(), "grown by the running guest's QEMU");
        assertEquals(before, event.getPreviousVirtualSize());
        assertEquals(after, event.getVirtualSize());
        JsonObject volume = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + id).json(), v -> v.getLong("virtualSize") == after);
        assertEquals("READY", volume.getString("status"), volume.encode());
    }

    private VolumeResized resizedBy(String taskId) throws Exception {
        return await().atMost(WAIT).until(() -> steps.events(VolumeResized.class).stream().filter(e -> e.getTaskId().equals(taskId)).findFirst(),
                java.util.Optional::isPresent).orElseThrow();
    }

    private String resize(String id, long size) {
        return accepted(http.post("/api/v1/volumes/" + id + "/resize", new JsonObject().put("virtualSize", size))).getString("taskId");
    }

    private void teardown(String id) {
        steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/teardown", new JsonObject())).getString("taskId"), "SUCCEEDED");
    }

    private String volume(String domainId, String name, long size, String format) {
        JsonObject answer = accepted(http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", name)
                .put("virtualSize", size).put("format", format).put("allocation", "raw".equals(format) ? "preallocated" : "thin")));
        steps.awaitTask(answer.getString("taskId"), "SUCCEEDED");
        return answer.getString("volumeId");
    }
}
