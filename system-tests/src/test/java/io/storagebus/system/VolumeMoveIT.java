package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.assertError;
import static io.storagebus.system.VolumeSteps.created;
import static io.storagebus.system.VolumeSteps.dataOf;
import static io.storagebus.system.VolumeSteps.run;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.schema.VolumeCopyProgress;
import io.storagebus.schema.VolumeMoved;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Moving a volume no guest uses between a file and a blockfile domain through the REST API: the
 * id stays, the data is the same (compared by {@code qemu-img compare} with a copy taken before),
 * snapshots and backups stay valid, the source is delinked, and a move the SPM hands over halfway
 * is finished by the next term.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VolumeMoveIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);

    private Cluster cluster;
    private io.storagebus.testkit.S3MockServer s3;
    private Http http;
    private VolumeSteps steps;
    private Path tmp;
    private Path files;
    private Path blocks;
    private String fileDomain;
    private String blockDomain;
    private String backupDomain;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        s3 = io.storagebus.testkit.S3MockServer.start(dir.resolve("s3"));
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        steps = new VolumeSteps(http, cluster.kafka.bootstrapServers(), WAIT);
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        files = Files.createDirectories(dir.resolve("files"));
        blocks = Files.createDirectories(dir.resolve("blocks"));
        fileDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "files").put("driver", "file")
                .put("properties", new JsonObject().put("path", files.toString()))));
        blockDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "blocks").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", blocks.toString()))));
        JsonObject bag = new JsonObject();
        s3.domainProperties().forEach(bag::put);
        backupDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "backups").put("driver", "object").put("properties", bag)));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster, s3);
    }

    @Test
    void aRawAndAQcow2VolumeMoveThereAndBackWithTheirDataAndIds() throws Exception {
        JsonObject raw = volume("moving-raw", 48 * MIB, "raw");
        Path rawFile = dataOf(raw);
        byte[] chunk = new byte[(int) MIB];
        new Random(11).nextBytes(chunk);
        try (RandomAccessFile out = new RandomAccessFile(rawFile.toFile(), "rw")) {
            for (long offset : List.of(0L, 7 * MIB, 30 * MIB, 47 * MIB)) {
                out.seek(offset);
                out.write(chunk);
            }
        }
        JsonObject qcow2 = volume("moving-qcow2", 64 * MIB, "qcow2");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 3M", "-c", "write -P 0xa5 40M 1M", dataOf(qcow2).toString());
        Path rawBefore = Files.copy(rawFile, tmp.resolve("raw-before.img"));
        Path qcow2Before = Files.copy(dataOf(qcow2), tmp.resolve("qcow2-before.qcow2"));

        for (String target : List.of(blockDomain, fileDomain, blockDomain)) {
            for (JsonObject v : List.of(raw, qcow2)) {
                JsonObject accepted = accepted(http.post("/api/v1/volumes/" + v.getString("id") + "/move",
                        new JsonObject().put("targetDomainId", target)));
                assertEquals(v.getString("id"), accepted.getString("volumeId"));
                JsonObject moved = steps.awaitMoved(v.getString("id"), target);
                JsonObject task = http.get("/api/v1/tasks/" + accepted.getString("taskId")).json();
                assertEquals("SUCCEEDED", task.getString("status"), task.encode());
                assertEquals("MOVE_VOLUME", task.getString("type"), task.encode());
                Path data = dataOf(moved);
                assertTrue(data.startsWith(target.equals(blockDomain) ? blocks : files), data + " is in the target's directory");
                String format = v == raw ? "raw" : "qcow2";
                run("qemu-img", "compare", "-f", format, "-F", format, (v == raw ? rawBefore : qcow2Before).toString(), data.toString());
                VolumeMoved event = steps.events(VolumeMoved.class).stream().filter(e -> e.getTaskId().equals(accepted.getString("taskId")))
                        .findFirst().orElseThrow();
                assertEquals(target, event.getTargetDomainId());
                assertEquals(moved.getString("uri"), event.getUri());
                assertTrue(event.getBytes() > 0 && event.getSha256().length() == 64, event.toString());
            }
            String source = target.equals(blockDomain) ? fileDomain : blockDomain;
            List<String> left = http.get("/api/v1/domains/" + source + "/volumes").array().stream()
                    .map(o -> ((JsonObject) o).getString("name")).toList();
            assertFalse(left.contains("moving-raw") || left.contains("moving-qcow2"), "the source domain lists " + left);
        }
        // The first source's data was delinked when the volumes left, and again after their stay.
        try (var delinked = Files.list(files.resolve("delinked"))) {
            assertTrue(delinked.anyMatch(p -> p.getFileName().toString().startsWith(raw.getString("id"))), "the raw volume's delinked data");
        }
        assertTrue(steps.events(VolumeCopyProgress.class).stream().anyMatch(p -> p.getSourceVolumeId().equals(raw.getString("id"))
                && p.getCopiedBytes() == p.getTotalBytes()), "progress of the raw volume's copies");
        // Moved and usable: a host prepares it where it now is.
        JsonObject prepare = accepted(http.post("/api/v1/volumes/" + raw.getString("id") + "/prepare", new JsonObject().put("hostId", aHost())));
        steps.awaitTask(prepare.getString("taskId"), "SUCCEEDED");
        accepted(http.post("/api/v1/volumes/" + raw.getString("id") + "/teardown", new JsonObject()));
    }

    @Test
    void movesThatCannotBeAreRefusedWithTheReason() throws Exception {
        JsonObject v = volume("stays", 4 * MIB, "qcow2");
        String id = v.getString("id");
        assertError(http.post("/api/v1/volumes/" + id + "/move", new JsonObject()), 400, "REQUIRED", "targetDomainId");
        assertError(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", fileDomain)), 400, "SAME_DOMAIN",
                "targetDomainId");
        assertError(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", "nope")), 400, "UNKNOWN_DOMAIN",
                "targetDomainId");
        assertEquals(404, http.post("/api/v1/volumes/nope/move", new JsonObject().put("targetDomainId", blockDomain)).status());

        volume("taken-name", MIB, "qcow2", blockDomain);
        JsonObject sameName = volume("taken-name", MIB, "qcow2");
        assertError(http.post("/api/v1/volumes/" + sameName.getString("id") + "/move", new JsonObject().put("targetDomainId", blockDomain)),
                409, "VOLUME_EXISTS", "targetDomainId");

        JsonObject prepare = accepted(http.post("/api/v1/volumes/" + id + "/prepare", new JsonObject().put("hostId", aHost())));
        steps.awaitTask(prepare.getString("taskId"), "SUCCEEDED");
        // Prepared, so live; but no guest is watched there: the host says so, and the volume stays.
        assertError(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", blockDomain)
                .put("mirrorBandwidth", -1)), 400, "OUT_OF_RANGE", "mirrorBandwidth");
        JsonObject live = accepted(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", blockDomain)));
        assertTrue(live.getBoolean("live"), live.encode());
        steps.awaitTask(live.getString("taskId"), "FAILED");
        JsonObject failed = http.get("/api/v1/tasks/" + live.getString("taskId")).json();
        assertEquals("NO_GUEST", failed.getJsonObject("error").getString("code"), failed.encode());
        assertEquals("READY", http.get("/api/v1/volumes/" + id).json().getString("status"));
        try (var left = Files.list(blocks.resolve("volumes"))) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(id)), "nothing of the move is left in the target");
        }
        steps.awaitTask(accepted(http.post("/api/v1/volumes/" + id + "/teardown", new JsonObject())).getString("taskId"), "SUCCEEDED");
        assertEquals(fileDomain, http.get("/api/v1/volumes/" + id).json().getString("domainId"));
    }

    /**
     * A volume with two snapshots moves with its chain: the same snapshot ids in the target, the
     * data of every layer, and a chain that works there (a snapshot merged after the move).
     */
    @Test
    void aVolumeMovesWithItsSnapshots() throws Exception {
        JsonObject v = volume("chained", 16 * MIB, "qcow2");
        String id = v.getString("id");
        qemuIo(dataOf(v), "write -P 0xa1 0 1M");
        steps.snapshot(id, "first");
        qemuIo(dataOf(http.get("/api/v1/volumes/" + id).json()), "write -P 0xb2 1M 1M");
        steps.snapshot(id, "second");
        qemuIo(dataOf(http.get("/api/v1/volumes/" + id).json()), "write -P 0xc3 2M 1M");
        io.vertx.core.json.JsonArray snapshots = http.get("/api/v1/volumes/" + id + "/snapshots").array();
        assertEquals(2, snapshots.size());
        String firstBackup = backup(id, snapshots.getJsonObject(0).getString("id"), false);

        for (String target : List.of(blockDomain, fileDomain)) {
            JsonObject accepted = accepted(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", target)));
            steps.awaitTask(accepted.getString("taskId"), "SUCCEEDED");
            JsonObject moved = steps.awaitMoved(id, target);
            assertEquals(snapshots, http.get("/api/v1/volumes/" + id + "/snapshots").array(), "the same snapshots");
            assertContent(dataOf(moved), 0xa1, 0xb2, 0xc3);
        }
        // A backup made before the moves is the base of an incremental one after them, and both restore.
        String secondBackup = backup(id, snapshots.getJsonObject(1).getString("id"), true);
        assertEquals(firstBackup, http.get("/api/v1/backups/" + secondBackup).json().getString("baseBackupId"));
        JsonObject restored = accepted(http.post("/api/v1/backups/" + secondBackup + "/restore",
                new JsonObject().put("targetDomainId", fileDomain).put("name", "chained-restored")));
        steps.awaitTask(restored.getString("taskId"), "SUCCEEDED");
        assertContent(dataOf(http.get("/api/v1/volumes/" + restored.getString("volumeId")).json()), 0xa1, 0xb2, 0);

        JsonObject first = snapshots.getJsonObject(0);
        steps.awaitTask(accepted(http.delete("/api/v1/volumes/" + id + "/snapshots/" + first.getString("id"))).getString("taskId"), "SUCCEEDED");
        assertEquals(1, http.get("/api/v1/volumes/" + id + "/snapshots").array().size());
        assertContent(dataOf(http.get("/api/v1/volumes/" + id).json()), 0xa1, 0xb2, 0xc3);
    }

    /** A backup to the object store, complete; its id. */
    private String backup(String volumeId, String snapshotId, boolean incremental) {
        JsonObject accepted = accepted(http.post("/api/v1/volumes/" + volumeId + "/backups", new JsonObject().put("targetDomainId", backupDomain)
                .put("snapshotId", snapshotId).put("incremental", incremental)));
        steps.awaitTask(accepted.getString("taskId"), "SUCCEEDED");
        return accepted.getString("backupId");
    }

    private static void qemuIo(Path image, String command) throws Exception {
        run("qemu-io", "-f", "qcow2", "-c", command, image.toString());
    }

    /** The image, as a guest sees it through its chain, holds these patterns, a MiB each from the start. */
    private void assertContent(Path image, int... patterns) throws Exception {
        Path raw = Files.createTempFile(tmp, "content", ".raw");
        run("qemu-img", "convert", "-U", "-O", "raw", image.toString(), raw.toString());
        byte[] all = Files.readAllBytes(raw);
        for (int i = 0; i < patterns.length; i++) {
            for (int b = (int) (i * MIB); b < (i + 1) * MIB; b += 4096) {
                assertEquals((byte) patterns[i], all[b], image + " at " + b);
            }
        }
    }

    @Test
    void aMoveInterruptedByAnSpmHandOverIsFinishedByTheNextSpm() throws Exception {
        cluster.startWorker("host-2");
        JsonObject big = volume("big-move", 320 * MIB, "raw");
        Path data = dataOf(big);
        byte[] chunk = new byte[(int) MIB];
        new Random(12).nextBytes(chunk);
        try (RandomAccessFile out = new RandomAccessFile(data.toFile(), "rw")) {
            for (long offset = 0; offset < 320 * MIB; offset += 40 * MIB) {
                out.seek(offset);
                out.write(chunk);
            }
        }
        Path before = Files.copy(data, tmp.resolve("big-before.img"));
        var spm = cluster.spm().orElseThrow();
        long oldEpoch = spm.spmTerm().orElseThrow().epoch();

        JsonObject accepted = accepted(http.post("/api/v1/volumes/" + big.getString("id") + "/move",
                new JsonObject().put("targetDomainId", blockDomain)));
        String taskId = accepted.getString("taskId");
        await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json().getLong("doneBytes", 0L) > 0);
        spm.close();
        cluster.workers.remove(spm);

        JsonObject moved = steps.awaitMoved(big.getString("id"), blockDomain);
        assertTrue(cluster.spm().orElseThrow().spmTerm().orElseThrow().epoch() > oldEpoch);
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", before.toString(), dataOf(moved).toString());
        List<VolumeMoved> outcomes = steps.events(VolumeMoved.class).stream().filter(e -> e.getTaskId().equals(taskId)).toList();
        assertEquals(1, outcomes.size(), "exactly one outcome: " + outcomes);
        assertTrue(outcomes.get(0).getEnvelope().getSpmEpoch() > oldEpoch, "the outcome is the new term's");
        assertEquals("SUCCEEDED", http.get("/api/v1/tasks/" + taskId).json().getString("status"));
        boolean wasMoving = false;
        for (var r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.VOLUME_STATE)) {
            if (big.getString("id").equals(r.key()) && r.value() != null
                    && MessageCodec.standard().decode(r.value()) instanceof io.storagebus.schema.VolumeState v) {
                wasMoving |= v.getStatus() == io.storagebus.schema.VolumeStatus.MOVING && v.getTaskId().equals(taskId);
            }
        }
        assertTrue(wasMoving, "the volume was MOVING while it moved");
        cluster.startWorker("host-3");
    }

    /** A host that runs now: the hand-over test replaces the first. */
    private String aHost() {
        return cluster.workers.get(0).hostId();
    }

    /** A move cancelled halfway: the task FAILED with CANCELLED, the volume READY where it was, nothing in the target. */
    @Test
    void aCancelledMoveLeavesTheVolumeWhereItWas() throws Exception {
        JsonObject big = volume("cancelled-move", 4096 * MIB, "raw");
        String id = big.getString("id");
        Path data = dataOf(big);
        byte[] chunk = new byte[(int) MIB];
        new Random(13).nextBytes(chunk);
        try (RandomAccessFile out = new RandomAccessFile(data.toFile(), "rw")) {
            out.seek(4095 * MIB);
            out.write(chunk);
        }
        JsonObject accepted = accepted(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", blockDomain)));
        String taskId = accepted.getString("taskId");
        await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json().getLong("doneBytes", 0L) > 0);
        Http.Response cancel = http.delete("/api/v1/tasks/" + taskId);
        assertEquals(202, cancel.status(), cancel.body());
        assertEquals("CANCELLING", cancel.json().getString("status"));

        steps.awaitTask(taskId, "FAILED");
        JsonObject task = http.get("/api/v1/tasks/" + taskId).json();
        assertEquals("CANCELLED", task.getJsonObject("error").getString("code"), task.encode());
        long copied = steps.events(VolumeCopyProgress.class).stream().filter(p -> p.getTaskId().equals(taskId))
                .mapToLong(VolumeCopyProgress::getCopiedBytes).max().orElse(0);
        assertTrue(copied > 0 && copied < 4096 * MIB, "stopped before the end: " + copied);
        JsonObject volume = http.get("/api/v1/volumes/" + id).json();
        assertEquals("READY", volume.getString("status"), volume.encode());
        assertEquals(fileDomain, volume.getString("domainId"));
        try (RandomAccessFile in = new RandomAccessFile(dataOf(volume).toFile(), "r")) {
            byte[] back = new byte[(int) MIB];
            in.seek(4095 * MIB);
            in.readFully(back);
            assertTrue(java.util.Arrays.equals(chunk, back), "the source's data is as it was");
        }
        try (var left = Files.list(blocks.resolve("volumes"))) {
            assertTrue(left.noneMatch(p -> p.getFileName().toString().startsWith(id)), "nothing of the move is left in the target");
        }

        assertError(http.delete("/api/v1/tasks/" + taskId), 409, "TASK_FINISHED", null);
        assertError(http.delete("/api/v1/tasks/nope"), 404, "TASK_NOT_FOUND", null);
        assertError(http.delete("/api/v1/tasks/" + big.getString("taskId")), 409, "NOT_CANCELLABLE", null);
    }

    /**
     * What a term that ended between the source's delink and the switch leaves: the source
     * delinked and a copy in the target, while the state still names the source. The next run
     * of the move (here a new request, made the same way) restores the source, discards the
     * stale copy and moves the volume with the source's data.
     */
    @Test
    void aMoveRestoresASourceAnEarlierRunDelinkedAndDiscardsItsCopy() throws Exception {
        JsonObject v = volume("left-half-moved", 8 * MIB, "qcow2");
        String id = v.getString("id");
        qemuIo(dataOf(v), "write -P 0x77 0 2M");
        Path before = Files.copy(dataOf(v), tmp.resolve("half-moved-before.qcow2"));
        io.storagebus.driver.StorageDriver file = new io.storagebus.driver.CheckedDriver(new io.storagebus.driver.file.FileDriver());
        io.storagebus.driver.StorageDriver block = new io.storagebus.driver.CheckedDriver(new io.storagebus.driver.blockfile.BlockfileDriver());
        io.storagebus.driver.DomainContext source = new io.storagebus.driver.DomainContext(fileDomain, java.util.Map.of("path", files.toString()));
        io.storagebus.driver.DomainContext target = new io.storagebus.driver.DomainContext(blockDomain, java.util.Map.of("path", blocks.toString()));
        block.create(target, new io.storagebus.driver.VolumeSpec(id, "left-half-moved", 8 * MIB, io.storagebus.driver.VolumeFormat.QCOW2,
                io.storagebus.driver.Allocation.THIN));
        file.delink(source, new io.storagebus.driver.VolumeUri(fileDomain, id));

        JsonObject accepted = accepted(http.post("/api/v1/volumes/" + id + "/move", new JsonObject().put("targetDomainId", blockDomain)));
        steps.awaitTask(accepted.getString("taskId"), "SUCCEEDED");
        JsonObject moved = steps.awaitMoved(id, blockDomain);
        run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", before.toString(), dataOf(moved).toString());
        assertTrue(file.listDelinked(source).stream().anyMatch(d -> d.uri().volumeId().equals(id)), "the source is delinked again, once");
    }

    private JsonObject volume(String name, long size, String format) {
        return volume(name, size, format, fileDomain);
    }

    private JsonObject volume(String name, long size, String format, String domainId) {
        JsonObject accepted = accepted(http.post("/api/v1/domains/" + domainId + "/volumes",
                new JsonObject().put("name", name).put("virtualSize", size).put("format", format)));
        JsonObject volume = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + accepted.getString("volumeId")).json(),
                v -> !"CREATING".equals(v.getString("status")));
        assertEquals("READY", volume.getString("status"), volume.encode());
        return volume;
    }
}
