package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.created;
import static io.storagebus.system.VolumeSteps.dataOf;
import static io.storagebus.system.VolumeSteps.run;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.storagebus.schema.VolumeMoved;
import io.storagebus.schema.VolumePrepared;
import io.storagebus.testkit.QemuProcess;
import io.storagebus.testkit.StorageBusProcess;
import io.storagebus.worker.HostWorker;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Moving a disk while its guest writes to it, through the REST API with a real QEMU: the SPM
 * copies the snapshots, the guest's QEMU mirrors the active layer and pivots, the guest never
 * sees a failed write, and every write lands. A cancelled mirror and a QEMU that dies in the
 * middle of one leave the volume where it was, with nothing in the target.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveMoveIT {
    private static final long MIB = 1L << 20;
    private static final long BLOCK = 64 * 1024;
    private static final Duration WAIT = Duration.ofSeconds(90);
    /** qemu-io through the guest's disk device, whose block backend follows the pivot. */
    private static final String GUEST_DISK = "-d /machine/peripheral/disk0/virtio-backend";

    private Cluster cluster;
    private Http http;
    private VolumeSteps steps;
    private Path tmp;
    private Path blocks;
    private String fileDomain;
    private String blockDomain;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        assumeTrue(ThinVolumes.canRun(), "skipped: needs root, loop devices and " + QemuProcess.BINARY);
        tmp = dir;
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        steps = new VolumeSteps(http, cluster.kafka.bootstrapServers(), WAIT);
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        blocks = Files.createDirectories(dir.resolve("blocks"));
        fileDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "files").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("files")).toString()))));
        blockDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "blocks").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", blocks.toString()))));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster);
    }

    /**
     * A volume with two snapshots moves file -> blockfile and back while a writer issues 384
     * writes of 64 KiB, each with its own pattern, through the guest's disk: both moves are live,
     * no write fails, the guest never pauses, and at the end the chain holds the snapshots' data
     * and every write, under the same snapshot ids.
     */
    @Test
    void aVolumeWithSnapshotsMovesThereAndBackWhileItsGuestWrites() throws Exception {
        int writes = 384;
        JsonObject v = volume("live-disk", 32 * MIB);
        String id = v.getString("id");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xa1 0 1M", dataOf(v).toString());
        steps.snapshot(id, "one");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xb2 1M 1M", dataOf(http.get("/api/v1/volumes/" + id).json()).toString());
        steps.snapshot(id, "two");
        JsonArray snapshots = http.get("/api/v1/volumes/" + id + "/snapshots").array();
        String path = prepare(id);

        Path vm = tmp.resolve("live-vm");
        List<JsonObject> moves = new ArrayList<>();
        try (WatchedGuest guest = startGuest(id, path, vm)) {
            ThinVolumes.TestQmp qmp = guest.qmp();
            AtomicInteger written = new AtomicInteger();
            List<String> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
            long[] slowest = new long[1];
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    for (int i = 0; i < writes; i++) {
                        long started = System.nanoTime();
                        String said = String.valueOf(qmp.execute("human-monitor-command", new JsonObject().put("command-line",
                                "qemu-io " + GUEST_DISK + " \"write -P " + pattern(i) + " " + (2 * MIB + i * BLOCK) + " " + BLOCK + "\"")));
                        if (said.contains("failed") || said.startsWith("Error")) {
                            failures.add(i + ": " + said);
                        }
                        slowest[0] = Math.max(slowest[0], System.nanoTime() - started);
                        written.incrementAndGet();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            for (String target : List.of(blockDomain, fileDomain)) {
                int before = written.get();
                await().atMost(WAIT).until(() -> written.get() >= before + 40 || writer.isDone());
                JsonObject accepted = accepted(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", target)));
                assertTrue(accepted.getBoolean("live"), accepted.encode());
                assertEquals(hostId(), accepted.getString("hostId"));
                steps.awaitTask(accepted.getString("taskId"), "SUCCEEDED");
                moves.add(steps.awaitMoved(id, target).put("writtenBefore", before).put("writtenAfter", written.get()));
                assertEquals("running", qmp.status(), "the guest runs on");
            }
            writer.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            // What a guest notices of two pivots: its slowest write (64 KiB through the monitor, under TCG) while they happened.
            System.out.printf("live move: %d writes of 64 KiB across 2 live moves, slowest %.1f ms%n", writes, slowest[0] / 1e6);
            assertEquals(List.of(), failures, "no write failed");
            assertTrue(moves.get(0).getInteger("writtenAfter") < writes, "the first move happened while the guest wrote: " + moves);
            assertEquals(2, liveMoves(id).size(), "both moves were live: " + liveMoves(id));
            assertEquals(0, deviceFailedWrites(qmp), "the guest's disk never failed a write");
            guest.quit();
        }
        JsonObject after = http.get("/api/v1/volumes/" + id).json();
        assertEquals(fileDomain, after.getString("domainId"));
        assertEquals(snapshots, http.get("/api/v1/volumes/" + id + "/snapshots").array(), "the same snapshots");
        // The pattern the guest was given, as an image: the moved chain must read the same.
        byte[] expected = new byte[(int) (32 * MIB)];
        Arrays.fill(expected, 0, (int) MIB, (byte) 0xa1);
        Arrays.fill(expected, (int) MIB, (int) (2 * MIB), (byte) 0xb2);
        for (int i = 0; i < writes; i++) {
            Arrays.fill(expected, (int) (2 * MIB + i * BLOCK), (int) (2 * MIB + (i + 1) * BLOCK), (byte) pattern(i));
        }
        Path pattern = Files.write(tmp.resolve("live-pattern.raw"), expected);
        run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", pattern.toString(), dataOf(after).toString());
        steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/teardown", new JsonObject())).getString("taskId"), "SUCCEEDED");
        try (var left = Files.list(blocks.resolve("volumes"))) {
            List<Path> layers = left.filter(p -> p.getFileName().toString().startsWith(id)).toList();
            for (Path layer : layers) {
                assertEquals("", ThinVolumes.loopDeviceOf(layer), "no device left on " + layer);
            }
        }
    }

    /**
     * A mirror held to 1 MiB/s is cancelled: the guest keeps the source and runs on, the task
     * ends CANCELLED, nothing is left in the target. Then a QEMU killed during the next mirror:
     * the move fails, and the volume is still the source, with its data.
     */
    @Test
    void aCancelledMirrorAndADeadQemuLeaveTheVolumeOnItsSource() throws Exception {
        JsonObject v = volume("stays-put", 64 * MIB);
        String id = v.getString("id");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x3c 0 24M", dataOf(v).toString());
        String path = prepare(id);
        Path vm = tmp.resolve("cancel-vm");
        try (WatchedGuest guest = startGuest(id, path, vm)) {
            ThinVolumes.TestQmp qmp = guest.qmp();
            String taskId = slowMove(id, qmp);
            Http.Response cancel = http.delete("/api/v1/tasks/" + taskId);
            assertEquals(202, cancel.status(), cancel.body());
            steps.awaitTask(taskId, "FAILED");
            JsonObject task = http.get("/api/v1/tasks/" + taskId).json();
            assertEquals("CANCELLED", task.getJsonObject("error").getString("code"), task.encode());
            assertStillOnSource(id, path);
            assertEquals(0, ((JsonArray) qmp.execute("query-block-jobs", null)).size(), "no mirror runs on");
            assertEquals("running", qmp.status());
            qmp.qemuIo(GUEST_DISK, "write -P 0x4d 30M 1M");
            assertEquals(0, deviceFailedWrites(qmp));

            String second = slowMove(id, qmp);
            guest.qemu().close();
            steps.awaitTask(second, "FAILED");
            assertStillOnSource(id, path);
        }
        byte[] image = content(dataOf(http.get("/api/v1/volumes/" + id).json()));
        for (int mib = 0; mib < 24; mib++) {
            assertMib(image, mib, 0x3c);
        }
        assertMib(image, 30, 0x4d);
    }

    /**
     * Maintenance of a domain whose three volumes running guests use, with a drain: the host
     * consents (its guests' volumes are moved, not a reason to veto), the volumes move live, and
     * the domain goes into maintenance with the guests still running and writing, now to the target.
     */
    @Test
    void aDrainMovesThreeVolumesInUseLiveAndTheDomainGoesIntoMaintenance() throws Exception {
        String busy = created(http.post("/api/v1/domains", new JsonObject().put("name", "busy-files").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("busy-files")).toString()))));
        List<String> ids = new ArrayList<>();
        List<WatchedGuest> guests = new ArrayList<>();
        try {
            for (int g = 0; g < 3; g++) {
                JsonObject accepted = accepted(http.post("/api/v1/domains/" + busy + "/volumes",
                        new JsonObject().put("name", "in-use-" + g).put("virtualSize", 16 * MIB).put("format", "qcow2")));
                steps.awaitTask(accepted.getString("taskId"), "SUCCEEDED");
                String id = accepted.getString("volumeId");
                ids.add(id);
                guests.add(startGuest(id, prepare(id), tmp.resolve("drain-vm-" + g)));
                guests.get(g).qmp().qemuIo(GUEST_DISK, "write -P " + (0x61 + g) + " 0 1M");
            }
            Http.Response r = http.post("/api/v1/domains/" + busy + "/maintenance", new JsonObject().put("reason", "retire the shelf")
                    .put("deadlineSeconds", 30).put("drain", new JsonObject().put("targetDomainId", blockDomain)));
            assertEquals(202, r.status(), r.body());
            JsonObject done = await().atMost(WAIT).until(() -> http.get("/api/v1/domains/" + busy + "/maintenance"),
                    m -> m.status() == 200 && List.of("COMPLETED", "ABORTED").contains(m.json().getString("status"))).json();
            assertEquals("COMPLETED", done.getString("status"), done.encode());
            assertEquals(3, done.getJsonObject("drain").getInteger("moved"), done.encode());
            JsonObject host = done.getJsonArray("voters").stream().map(JsonObject.class::cast)
                    .filter(o -> ("host:" + hostId()).equals(o.getString("subscriberId"))).findFirst().orElseThrow();
            assertEquals("CONSENT", host.getString("vote"), done.encode());
            assertEquals("MAINTENANCE", http.get("/api/v1/domains/" + busy).json().getString("status"));
            for (int g = 0; g < 3; g++) {
                JsonObject volume = http.get("/api/v1/volumes/" + ids.get(g)).json();
                assertEquals(blockDomain, volume.getString("domainId"), volume.encode());
                assertEquals(1, liveMoves(ids.get(g)).size(), "moved live");
                ThinVolumes.TestQmp qmp = guests.get(g).qmp();
                assertEquals("running", qmp.status(), "the guest runs on");
                qmp.qemuIo(GUEST_DISK, "write -P " + (0x71 + g) + " 1M 1M");
                assertEquals(0, deviceFailedWrites(qmp));
                guests.get(g).quit();
            }
        } finally {
            guests.forEach(WatchedGuest::close);
        }
        for (int g = 0; g < 3; g++) {
            byte[] image = content(dataOf(http.get("/api/v1/volumes/" + ids.get(g)).json()));
            assertMib(image, 0, 0x61 + g);
            assertMib(image, 1, 0x71 + g);
            steps.awaitTask(accepted(http.post("/api/v1/volumes/" + ids.get(g) + "/teardown", new JsonObject())).getString("taskId"), "SUCCEEDED");
        }
        assertEquals(200, http.post("/api/v1/domains/" + busy + "/activate", "{}").status());
    }

    /**
     * The SPM's worker closed while another host's guest mirrors: that host pivots and answers on
     * the SPM's topic, and the next SPM, elected meanwhile, finishes the move from the answer.
     */
    @Test
    void aLiveMoveOutlivesItsSpm() throws Exception {
        String guestHost = "host-live-2";
        cluster.startWorker(guestHost);
        JsonObject v = volume("outlives-spm", 32 * MIB);
        String id = v.getString("id");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5e 0 8M", dataOf(v).toString());
        steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/prepare", new JsonObject().put("hostId", guestHost))).getString("taskId"),
                "SUCCEEDED");
        String path = steps.events(VolumePrepared.class).stream().filter(p -> p.getVolumeId().equals(id)).reduce((a, b) -> b).orElseThrow().getPath();
        Path vm = tmp.resolve("spm-vm");
        try (WatchedGuest guest = startGuest(id, path, vm)) {
            ThinVolumes.TestQmp qmp = guest.qmp();
            var spm = cluster.workers.stream().filter(w -> !w.hostId().equals(guestHost) && w.spmTerm().isPresent()).findFirst()
                    .orElseThrow(() -> new AssertionError("the guest's host is not to be the SPM here"));
            long oldEpoch = spm.spmTerm().orElseThrow().epoch();
            String taskId = slowMove(id, qmp, blockDomain, 4 * MIB);
            spm.close();
            cluster.workers.remove(spm);
            steps.awaitTask(taskId, "SUCCEEDED");
            JsonObject moved = steps.awaitMoved(id, blockDomain);
            VolumeMoved event = liveMoves(id).get(0);
            assertTrue(event.getEnvelope().getSpmEpoch() > oldEpoch, "the next term finished it: " + event);
            assertEquals("running", qmp.status());
            qmp.qemuIo(GUEST_DISK, "write -P 0x5f 8M 1M");
            assertEquals(0, deviceFailedWrites(qmp));
            guest.quit();
            byte[] image = content(dataOf(moved));
            for (int mib = 0; mib < 8; mib++) {
                assertMib(image, mib, 0x5e);
            }
            assertMib(image, 8, 0x5f);
        }
        cluster.startWorker("host-live-3");
    }

    /**
     * The guest's host worker (its own process) killed with -9 during the mirror: its lease ends
     * with its ZooKeeper session, the SPM gives the move up (HOST_LOST), the volume is READY in
     * its source with its data, and the target's copy is kept delinked. The guest, which the dead
     * worker never pivoted, runs on and writes to the source. (The target is a second file domain:
     * a blockfile target's devices, which the dead worker attached on this one machine, would
     * stand in the way of the delink here, as they would not on another host's SPM.)
     */
    @Test
    void aLiveMoveWhoseHostWorkerIsKilledStaysOnItsSource() throws Exception {
        Path qmpDir = Files.createDirectories(tmp.resolve("killed-host"));
        StorageBusProcess worker = StorageBusProcess.worker(Path.of(System.getProperty("storagebus.dist")), "host-killed",
                cluster.kafka.bootstrapServers(), cluster.zooKeeper.connectString(), 4000, Files.createDirectories(tmp.resolve("logs")),
                java.util.Map.of(), List.of("--qmp-dir", qmpDir.toString())).start();
        Path otherFiles = Files.createDirectories(tmp.resolve("files-2"));
        String target = created(http.post("/api/v1/domains", new JsonObject().put("name", "files-2").put("driver", "file")
                .put("properties", new JsonObject().put("path", otherFiles.toString()))));
        String id;
        try {
            await().atMost(WAIT).until(() -> http.get("/api/v1/hosts").array().stream().map(JsonObject.class::cast)
                    .anyMatch(h -> "host-killed".equals(h.getString("hostId"))));
            JsonObject v = volume("host-dies", 32 * MIB);
            id = v.getString("id");
            run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5d 0 8M", dataOf(v).toString());
            steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/prepare", new JsonObject().put("hostId", "host-killed")))
                    .getString("taskId"), "SUCCEEDED");
            String path = dataOf(v).toString();
            try (WatchedGuest guest = startGuest(id, path, qmpDir)) {
                ThinVolumes.TestQmp qmp = guest.qmp();
                String taskId = slowMove(id, qmp, target, MIB);
                worker.kill();
                steps.awaitTask(taskId, "FAILED");
                JsonObject task = http.get("/api/v1/tasks/" + taskId).json();
                assertEquals("HOST_LOST", task.getJsonObject("error").getString("code"), task.encode());
                JsonObject volume = http.get("/api/v1/volumes/" + id).json();
                assertEquals("READY", volume.getString("status"), volume.encode());
                assertEquals(fileDomain, volume.getString("domainId"), volume.encode());
                assertEquals(path, dataOf(volume).toString());
                try (var delinked = Files.list(otherFiles.resolve("delinked"))) {
                    assertTrue(delinked.anyMatch(p -> p.getFileName().toString().startsWith(id)), "the target's copy is kept, delinked");
                }
                assertEquals("running", qmp.status(), "the guest runs on");
                qmp.qemuIo(GUEST_DISK, "write -P 0x44 9M 1M");
                assertEquals(0, deviceFailedWrites(qmp));
                guest.quit();
            }
        } finally {
            worker.close();
        }
        byte[] image = content(dataOf(http.get("/api/v1/volumes/" + id).json()));
        for (int mib = 0; mib < 8; mib++) {
            assertMib(image, mib, 0x5d);
        }
        assertMib(image, 9, 0x44);
    }

    /**
     * Thin provisioning during a live move onto block storage, in a pool whose extend chunk is
     * 4 MiB: the target's top starts with the source top's allocation and one chunk; the guest
     * writes 12 MiB more while a mirror held to 4 MiB/s runs, so the mirror fills the target,
     * whose write threshold the host watches: the SPM extends the target in its own domain while
     * the guest still runs on the source, the mirror completes and the guest never fails a write.
     */
    @Test
    void aThinTargetGrowsWhileTheMirrorWritesToIt() throws Exception {
        String pool = "thinpool";
        HostWorker thinHost = cluster.startWorker("thin-1", c -> io.storagebus.worker.WorkerConfig.of("thin-1", pool,
                cluster.kafka.bootstrapServers(), cluster.zooKeeper.connectString())
                .withExtendPolicy(new io.storagebus.worker.thin.ExtendPolicy(4 * MIB, 50, 0), Duration.ofMillis(500)));
        try {
            String files = created(http.post("/api/v1/domains", new JsonObject().put("name", "thin-files").put("driver", "file").put("pool", pool)
                    .put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("thin-files")).toString()))));
            String thinBlocks = created(http.post("/api/v1/domains", new JsonObject().put("name", "thin-blocks").put("driver", "blockfile")
                    .put("pool", pool).put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("thin-blocks")).toString()))));
            JsonObject accepted = accepted(http.post("/api/v1/domains/" + files + "/volumes",
                    new JsonObject().put("name", "grows-while-moving").put("virtualSize", 32 * MIB).put("format", "qcow2")));
            steps.awaitTask(accepted.getString("taskId"), "SUCCEEDED");
            String id = accepted.getString("volumeId");
            JsonObject v = http.get("/api/v1/volumes/" + id).json();
            run("qemu-io", "-f", "qcow2", "-c", "write -P 0x31 0 4M", dataOf(v).toString());
            steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/prepare", new JsonObject().put("hostId", "thin-1"))).getString("taskId"),
                    "SUCCEEDED");
            Path vm = tmp.resolve("thin-vm");
            try (WatchedGuest guest = startGuest(id, dataOf(v).toString(), vm)) {
                ThinVolumes.TestQmp qmp = guest.qmp();
                String taskId = slowMove(id, qmp, thinBlocks, 4 * MIB);
                for (int mib = 8; mib < 20; mib++) {
                    qmp.qemuIo(GUEST_DISK, "write -P " + (0x40 + mib) + " " + mib + "M 1M");
                }
                steps.awaitTask(taskId, "SUCCEEDED");
                List<io.storagebus.schema.VolumeExtended> extended = steps.events(io.storagebus.schema.VolumeExtended.class).stream()
                        .filter(e -> e.getVolumeId().equals(id) && e.getDomainId().equals(thinBlocks)).toList();
                VolumeMoved moved = liveMoves(id).get(0);
                assertTrue(extended.stream().anyMatch(e -> e.getEnvelope().getTimestamp().isBefore(moved.getEnvelope().getTimestamp())),
                        "the target was extended during the mirror: " + extended);
                assertEquals(0, deviceFailedWrites(qmp), "the guest never failed a write");
                assertEquals("running", qmp.status());
                guest.quit();
            }
            byte[] image = content(dataOf(http.get("/api/v1/volumes/" + id).json()));
            for (int mib = 0; mib < 4; mib++) {
                assertMib(image, mib, 0x31);
            }
            for (int mib = 8; mib < 20; mib++) {
                assertMib(image, mib, 0x40 + mib);
            }
            steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/teardown", new JsonObject())).getString("taskId"), "SUCCEEDED");
        } finally {
            thinHost.close();
            cluster.workers.remove(thinHost);
        }
    }

    /** Starts a move held to 1 MiB/s and waits until the guest's QEMU mirrors; its task id. */
    private String slowMove(String id, ThinVolumes.TestQmp qmp) throws Exception {
        return slowMove(id, qmp, blockDomain, MIB);
    }

    private String slowMove(String id, ThinVolumes.TestQmp qmp, String targetDomain, long bytesPerSecond) throws Exception {
        JsonObject accepted = accepted(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", targetDomain)
                .put("mirrorBandwidth", bytesPerSecond)));
        assertTrue(accepted.getBoolean("live"), accepted.encode());
        await().atMost(WAIT).until(() -> ((JsonArray) qmp.execute("query-block-jobs", null)).size() == 1);
        return accepted.getString("taskId");
    }

    private void assertStillOnSource(String id, String path) throws Exception {
        JsonObject volume = http.get("/api/v1/volumes/" + id).json();
        assertEquals("READY", volume.getString("status"), volume.encode());
        assertEquals(fileDomain, volume.getString("domainId"), volume.encode());
        assertEquals(path, dataOf(volume).toString());
        try (var left = Files.list(blocks.resolve("volumes"))) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(id)), "nothing of the move is left in the target");
        }
    }

    private String hostId() {
        return cluster.workers.get(0).hostId();
    }

    private String prepare(String id) throws Exception {
        return steps.prepare(id, hostId());
    }

    /** A guest whose disk is the volume's data at {@code path} (qcow2, node {@code vol}), watched by the volume's host. */
    private WatchedGuest startGuest(String id, String path, Path vm) throws Exception {
        return WatchedGuest.start(http, id, WatchedGuest.qcow2File(path), vm);
    }

    private List<VolumeMoved> liveMoves(String id) throws Exception {
        return steps.events(VolumeMoved.class).stream().filter(m -> m.getVolumeId().equals(id) && m.getLive()).toList();
    }

    /** Failed writes of the guest's disk, whichever node is under it now. */
    private static long deviceFailedWrites(ThinVolumes.TestQmp qmp) throws Exception {
        long failed = 0;
        for (Object o : (JsonArray) qmp.execute("query-blockstats", null)) {
            failed += ((JsonObject) o).getJsonObject("stats").getLong("failed_wr_operations", 0L);
        }
        return failed;
    }

    private static int pattern(int block) {
        return block % 250 + 1;
    }

    private static void assertMib(byte[] image, int mib, int pattern) {
        for (int b = (int) (mib * MIB); b < (mib + 1) * MIB; b += 4096) {
            assertEquals((byte) pattern, image[b], "MiB " + mib + " at " + b);
        }
    }

    /** What a guest sees of the image (its chain flattened). */
    private byte[] content(Path image) throws Exception {
        Path raw = Files.createTempFile(tmp, "content", ".raw");
        run("qemu-img", "convert", "-U", "-O", "raw", image.toString(), raw.toString());
        return Files.readAllBytes(raw);
    }

    private JsonObject volume(String name, long size) {
        JsonObject accepted = accepted(http.post("/api/v1/domains/" + fileDomain + "/volumes",
                new JsonObject().put("name", name).put("virtualSize", size).put("format", "qcow2")));
        steps.awaitTask(accepted.getString("taskId"), "SUCCEEDED");
        return http.get("/api/v1/volumes/" + accepted.getString("volumeId")).json();
    }
}
