package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.created;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

import io.storagebus.schema.BackupCompleted;
import io.storagebus.schema.BackupDeleted;
import io.storagebus.schema.BackupProgress;
import io.storagebus.schema.SnapshotCreated;
import io.storagebus.schema.SnapshotDeleted;
import io.storagebus.schema.VolumeDeleted;
import io.storagebus.testkit.QemuProcess;
import io.storagebus.testkit.S3MockServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots and backups through REST against real parts: a file domain, a real QEMU whose block
 * layer writes known patterns (qemu-io over its monitor) while snapshots are taken and merged
 * live, a real S3-compatible server holding full and incremental backups, and restores compared
 * byte for byte with each point in time after the volume itself was deleted.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SnapshotBackupIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);
    /** qemu-io through the guest's disk device, whose block backend follows the chain's top as snapshots move it. */
    private static final String GUEST_DISK = "-d /machine/peripheral/disk0/virtio-backend";

    private Cluster cluster;
    private S3MockServer s3;
    private Http http;
    private Path tmp;
    private String files;
    private String backups;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        s3 = S3MockServer.start(dir.resolve("s3"));
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        files = created(http.post("/api/v1/domains", new JsonObject().put("name", "files").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("images")).toString()))));
        JsonObject bag = new JsonObject();
        s3.domainProperties().forEach(bag::put);
        backups = created(http.post("/api/v1/domains", new JsonObject().put("name", "backups").put("driver", "object").put("properties", bag)));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster, s3);
    }

    @Test
    void liveSnapshotsBackedUpFullAndIncrementalAreRestoredBitIdenticalAfterTheVolumeIsGone() throws Exception {
        assumeTrue(QemuProcess.available(), "skipped: needs " + QemuProcess.BINARY);
        String volumeId = readyVolume("guest-disk", 16 * MIB);
        task(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-1")));
        Path vm = tmp.resolve("vm");
        List<String> args = new ArrayList<>(List.of("-blockdev", "driver=file,filename=" + top(volumeId) + ",node-name=vol-file",
                "-blockdev", "driver=qcow2,file=vol-file,node-name=vol", "-device", "virtio-blk-pci,drive=vol,id=disk0"));
        args.addAll(ThinVolumes.testMonitor(vm));
        try (QemuProcess qemu = QemuProcess.start(vm, args); ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            Http.Response watch = http.post("/api/v1/volumes/" + volumeId + "/monitor",
                    new JsonObject().put("qmpSocket", qemu.qmpSocket().toString()).put("nodeName", "vol"));
            assertEquals(202, watch.status(), watch.body());
            qmp.qemuIo(GUEST_DISK, "write -P 0xa1 0 1M");

            JsonObject first = snapshot(volumeId, "first");
            assertTrue(first.getBoolean("live"), first.encode());
            qmp.qemuIo(GUEST_DISK, "write -P 0xb2 1M 1M");
            JsonObject second = snapshot(volumeId, "second");
            qmp.qemuIo(GUEST_DISK, "write -P 0xc3 2M 1M");
            assertEquals(0, qmp.failedWrites("vol"), "the guest never failed a write");

            JsonObject full = backup(volumeId, first.getString("snapshotId"), false);
            assertEquals("FULL", full.getString("kind"));
            JsonObject incremental = backup(volumeId, second.getString("snapshotId"), true);
            assertEquals("INCREMENTAL", incremental.getString("kind"));
            assertEquals(full.getString("id"), incremental.getString("baseBackupId"));
            assertTrue(incremental.getLong("bytes") < full.getLong("bytes") + MIB, "the incremental holds one layer: " + incremental.encode());

            // Deleting the first snapshot merges it while the guest runs: QEMU streams it into the layer above.
            JsonObject merge = task(http.delete("/api/v1/volumes/" + volumeId + "/snapshots/" + first.getString("snapshotId")));
            assertEquals("SUCCEEDED", merge.getString("status"), merge.encode());
            JsonArray left = http.get("/api/v1/volumes/" + volumeId + "/snapshots").array();
            assertEquals(1, left.size(), left.encode());
            assertEquals("second", left.getJsonObject(0).getString("name"));
            qmp.qemuIo(GUEST_DISK, "write -P 0xd4 3M 1M");
            qmp.quit(qemu);
        }
        assertContent(top(volumeId), 0xa1, 0xb2, 0xc3, 0xd4);
        assertTrue(events(SnapshotCreated.class, volumeId).stream().allMatch(SnapshotCreated::getLive));
        assertTrue(events(SnapshotDeleted.class, volumeId).stream().anyMatch(SnapshotDeleted::getLive));
        assertEquals(2, events(BackupCompleted.class, volumeId).size());
        assertFalse(events(BackupProgress.class, volumeId).isEmpty());

        task(http.delete("/api/v1/volumes/" + volumeId + "/monitor"), false);
        task(http.post("/api/v1/volumes/" + volumeId + "/teardown", new JsonObject()));
        JsonObject deleted = task(http.delete("/api/v1/volumes/" + volumeId + "?purge=true"));
        assertEquals("SUCCEEDED", deleted.getString("status"), deleted.encode());
        await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).status() == 404);
        assertEquals(1, events(VolumeDeleted.class, volumeId).size());
        assertTrue(Files.list(tmp.resolve("images/volumes")).noneMatch(f -> f.getFileName().toString().startsWith(volumeId)),
                "every layer of the volume is gone");

        List<JsonObject> kept = backupsOf(volumeId);
        assertEquals(List.of("COMPLETE", "COMPLETE"), kept.stream().map(b -> b.getString("status")).toList());
        assertContent(restore(kept.get(0).getString("id"), "at-first"), 0xa1, 0, 0, 0);
        assertContent(restore(kept.get(1).getString("id"), "at-second"), 0xa1, 0xb2, 0, 0);
    }

    /**
     * Live snapshots taken while the guest writes: a writer thread issues 256 writes of 64 KiB,
     * each with its own pattern, through the guest's disk; two snapshots are taken meanwhile.
     * No write fails or is lost, and the first snapshot holds exactly the writes finished before
     * it: a prefix, between what was done when it was requested and when it succeeded.
     */
    @Test
    void liveSnapshotsWhileTheGuestWritesLoseNothingAndCutAtOnePoint() throws Exception {
        assumeTrue(QemuProcess.available(), "skipped: needs " + QemuProcess.BINARY);
        int blocks = 256;
        String volumeId = readyVolume("busy-disk", blocks * 64 * 1024L);
        task(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-1")));
        Path base = top(volumeId);
        Path vm = tmp.resolve("busy-vm");
        List<String> args = new ArrayList<>(List.of("-blockdev", "driver=file,filename=" + base + ",node-name=vol-file",
                "-blockdev", "driver=qcow2,file=vol-file,node-name=vol", "-device", "virtio-blk-pci,drive=vol,id=disk0"));
        args.addAll(ThinVolumes.testMonitor(vm));
        int[] cut = new int[2];
        try (QemuProcess qemu = QemuProcess.start(vm, args); ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            assertEquals(202, http.post("/api/v1/volumes/" + volumeId + "/monitor",
                    new JsonObject().put("qmpSocket", qemu.qmpSocket().toString()).put("nodeName", "vol")).status());
            AtomicInteger written = new AtomicInteger();
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                try {
                    for (int i = 0; i < blocks; i++) {
                        qmp.qemuIo(GUEST_DISK, "write -P " + pattern(i) + " " + i * 64 + "K 64K");
                        written.incrementAndGet();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            await().atMost(WAIT).until(() -> written.get() >= 40);
            cut[0] = written.get();
            Http.Response first = http.post("/api/v1/volumes/" + volumeId + "/snapshots", new JsonObject().put("name", "busy-1"));
            assertEquals("SUCCEEDED", task(first).getString("status"));
            cut[1] = written.get();
            await().atMost(WAIT).until(() -> written.get() >= 150 || writer.isDone());
            assertEquals("SUCCEEDED", task(http.post("/api/v1/volumes/" + volumeId + "/snapshots", new JsonObject().put("name", "busy-2")))
                    .getString("status"));
            writer.get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(first.json().getBoolean("live"));
            assertTrue(cut[1] < blocks, "the first snapshot was taken while writes went on: " + Arrays.toString(cut));
            assertEquals(0, qmp.failedWrites("vol"), "the guest never failed a write");
            qmp.quit(qemu);
        }
        byte[] now = content(top(volumeId));
        for (int i = 0; i < blocks; i++) {
            assertBlock(now, i, pattern(i), "after both snapshots");
        }
        byte[] first = content(base);
        int prefix = 0;
        while (prefix < blocks && first[prefix * 64 * 1024] != 0) {
            prefix++;
        }
        assertTrue(prefix >= cut[0] && prefix <= cut[1], "the first snapshot holds " + prefix + " writes, expected "
                + cut[0] + ".." + cut[1]);
        for (int i = 0; i < blocks; i++) {
            assertBlock(first, i, i < prefix ? pattern(i) : 0, "in the first snapshot (a prefix of " + prefix + " writes)");
        }
    }

    private static int pattern(int block) {
        return block % 250 + 1;
    }

    private static void assertBlock(byte[] image, int block, int pattern, String where) {
        byte[] want = new byte[64 * 1024];
        Arrays.fill(want, (byte) pattern);
        assertArrayEquals(want, Arrays.copyOfRange(image, block * want.length, (block + 1) * want.length), "block " + block + " " + where);
    }

    /**
     * The same live cycle on block storage (a blockfile domain: loop devices standing in for
     * LVs): the host activates every layer as a device linked under its own name, the guest opens
     * the top's link and finds the layers below through the links beside it; a live snapshot
     * activates the new layer before the guest switches; a live merge first grows the child and
     * the host refreshes its device; teardown detaches every layer's device.
     */
    @Test
    void blockVolumesAreSnapshottedBackedUpAndMergedLiveAsChainsOfDevices() throws Exception {
        assumeTrue(ThinVolumes.canRun(), "skipped: needs root, loop devices and " + QemuProcess.BINARY);
        String blocks = created(http.post("/api/v1/domains", new JsonObject().put("name", "blocks").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("blocks")).toString()))));
        Http.Response r = http.post("/api/v1/domains/" + blocks + "/volumes",
                new JsonObject().put("name", "block-disk").put("virtualSize", 64 * MIB).put("format", "qcow2"));
        assertEquals("SUCCEEDED", task(r).getString("status"));
        String volumeId = r.json().getString("volumeId");
        Path base = top(volumeId);
        task(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-1")));
        String device = events(io.storagebus.schema.VolumePrepared.class, volumeId).get(0).getPath();
        assertTrue(Files.readSymbolicLink(Path.of(device)).toString().startsWith("/dev/loop"), device);
        Path vm = tmp.resolve("block-vm");
        List<String> args = new ArrayList<>(List.of("-blockdev", "driver=host_device,filename=" + device + ",node-name=vol-dev,cache.direct=on",
                "-blockdev", "driver=qcow2,file=vol-dev,node-name=vol,cache.direct=on", "-device", "virtio-blk-pci,drive=vol,id=disk0"));
        args.addAll(ThinVolumes.testMonitor(vm));
        JsonObject snapshot;
        try (QemuProcess qemu = QemuProcess.start(vm, args); ThinVolumes.TestQmp qmp = new ThinVolumes.TestQmp(vm.resolve("test.sock"))) {
            assertEquals(202, http.post("/api/v1/volumes/" + volumeId + "/monitor",
                    new JsonObject().put("qmpSocket", qemu.qmpSocket().toString()).put("nodeName", "vol")).status());
            qmp.qemuIo(GUEST_DISK, "write -P 0xa1 0 1M");
            snapshot = snapshot(volumeId, "on-block");
            assertTrue(snapshot.getBoolean("live"), snapshot.encode());
            qmp.qemuIo(GUEST_DISK, "write -P 0xb2 1M 1M");
            JsonObject backup = backup(volumeId, snapshot.getString("snapshotId"), false);

            JsonObject merge = task(http.delete("/api/v1/volumes/" + volumeId + "/snapshots/" + snapshot.getString("snapshotId")));
            assertEquals("SUCCEEDED", merge.getString("status"), merge.encode());
            assertTrue(events(SnapshotDeleted.class, volumeId).get(0).getLive(), "merged by the guest's QEMU");
            qmp.qemuIo(GUEST_DISK, "write -P 0xc3 2M 1M");
            assertEquals(0, qmp.failedWrites("vol"), "the guest never failed a write");
            qmp.quit(qemu);
            assertContent(restore(backup.getString("id"), "block-restored", blocks), 0xa1, 0, 0);
        }
        Path top = top(volumeId);
        assertTrue(Files.notExists(base), "the merged layer is gone from the storage");
        task(http.delete("/api/v1/volumes/" + volumeId + "/monitor"), false);
        task(http.post("/api/v1/volumes/" + volumeId + "/teardown", new JsonObject()));
        assertEquals("", ThinVolumes.loopDeviceOf(top), "every layer's device is detached");
        assertTrue(Files.notExists(Path.of(device).getParent()), "and the links are gone");
        assertContent(top, 0xa1, 0xb2, 0xc3);
    }

    @Test
    void offlineSnapshotsMergeAndCloneKeepData() throws Exception {
        String volumeId = readyVolume("offline-disk", 8 * MIB);
        write(volumeId, 0x11, 0);
        JsonObject s1 = snapshot(volumeId, "s1");
        assertFalse(s1.getBoolean("live"));
        write(volumeId, 0x22, 1);
        snapshot(volumeId, "s2");
        write(volumeId, 0x33, 2);
        JsonObject merged = task(http.delete("/api/v1/volumes/" + volumeId + "/snapshots/" + s1.getString("snapshotId")));
        assertEquals("SUCCEEDED", merged.getString("status"), merged.encode());
        assertContent(top(volumeId), 0x11, 0x22, 0x33, 0);

        Http.Response clone = http.post("/api/v1/volumes/" + volumeId + "/clone", new JsonObject().put("name", "offline-clone"));
        assertEquals(202, clone.status(), clone.body());
        String cloneId = clone.json().getString("volumeId");
        assertEquals("SUCCEEDED", task(clone).getString("status"));
        JsonObject cloneVolume = http.get("/api/v1/volumes/" + cloneId).json();
        assertEquals(volumeId, cloneVolume.getString("parentVolumeId"));
        assertContent(top(cloneId), 0x11, 0x22, 0x33, 0);
        assertEquals("VOLUME_HAS_CLONES", http.delete("/api/v1/volumes/" + volumeId).json().getString("code"));
    }

    /**
     * A policy every 10 s, full every 2nd backup, keeping the newest 2: runs go full, incremental,
     * full, incremental; each run merges away the snapshot the previous one needed; retention
     * then deletes the first chain (its incremental before its base); the newest backup restores
     * the data; removing the policy stops the runs.
     */
    @Test
    void scheduledBackupsAlternateFullAndIncrementalAndRetentionDeletesTheOldestChain() throws Exception {
        String volumeId = readyVolume("scheduled-disk", 4 * MIB);
        write(volumeId, 0x5a, 0);
        write(volumeId, 0x6b, 3);
        Http.Response set = http.put("/api/v1/volumes/" + volumeId + "/backup-policy", new JsonObject().put("targetDomainId", backups)
                .put("every", "PT10S").put("fullEvery", 2).put("keepLast", 2));
        assertEquals(200, set.status(), set.body());
        assertEquals("PT10S", http.get("/api/v1/volumes/" + volumeId + "/backup-policy").json().getString("every"));

        List<BackupDeleted> deleted = await().atMost(Duration.ofSeconds(120)).until(() -> events(BackupDeleted.class, volumeId), d -> d.size() >= 2);
        assertTrue(deleted.stream().allMatch(d -> "retention".equals(d.getReason())), deleted.toString());
        List<BackupCompleted> made = events(BackupCompleted.class, volumeId);
        assertTrue(made.size() >= 4, made.toString());
        assertEquals(List.of(false, true, false, true), made.subList(0, 4).stream().map(b -> b.getBaseBackupId() != null).toList(),
                "full every second backup");
        assertEquals(List.of(made.get(1).getBackupId(), made.get(0).getBackupId()), deleted.subList(0, 2).stream()
                .map(BackupDeleted::getBackupId).toList(), "the first chain goes, its incremental before its base");

        Http.Response removed = http.delete("/api/v1/volumes/" + volumeId + "/backup-policy");
        assertEquals(204, removed.status(), removed.body());
        assertEquals("BACKUP_POLICY_NOT_FOUND", http.get("/api/v1/volumes/" + volumeId + "/backup-policy").json().getString("code"));
        await().atMost(WAIT).until(() -> http.get("/api/v1/tasks?status=PENDING").array().isEmpty()
                && http.get("/api/v1/tasks?status=RUNNING").array().isEmpty());
        List<JsonObject> kept = backupsOf(volumeId);
        assertTrue(kept.stream().allMatch(b -> "COMPLETE".equals(b.getString("status")) && b.getBoolean("scheduled")), kept.toString());
        JsonArray snapshots = http.get("/api/v1/volumes/" + volumeId + "/snapshots").array();
        assertTrue(snapshots.size() <= 2, "each run merges away the snapshot before: " + snapshots.encode());
        int runs = kept.size();
        await().during(Duration.ofSeconds(15)).atMost(Duration.ofSeconds(20)).until(() -> backupsOf(volumeId).size() == runs);

        JsonObject newest = kept.get(kept.size() - 1);
        assertEquals("INCREMENTAL".equals(newest.getString("kind")), newest.getString("baseBackupId") != null);
        assertContent(restore(newest.getString("id"), "from-schedule"), 0x5a, 0, 0, 0x6b);
    }

    /** The operator's path: snapshot, back up, list, delete the volume, restore, schedule, all with the CLI. */
    @Test
    void theCliSnapshotsBacksUpRestoresAndSchedules() throws Exception {
        String url = "--url=" + http.base();
        String volumeId = readyVolume("cli-disk", 2 * MIB);
        write(volumeId, 0x7e, 1);
        CliRun snapshot = CliRun.of("snapshots", "create", volumeId, "--name", "by-cli", "--output", "json", url);
        assertEquals(0, snapshot.exit(), snapshot.err());
        awaitTask(new JsonObject(snapshot.out()).getString("taskId"));
        CliRun listed = CliRun.of("snapshots", "list", volumeId, url);
        assertTrue(listed.out().contains("by-cli") && listed.out().contains("READY"), listed.out());

        CliRun refused = CliRun.of("backups", "create", volumeId, "--to", files, url);
        assertEquals(1, refused.exit());
        assertTrue(refused.err().contains("NOT_A_BACKUP_DOMAIN") && refused.err().contains("field: targetDomainId"), refused.err());
        CliRun backup = CliRun.of("backups", "create", volumeId, "--to", backups, "--output", "json", url);
        assertEquals(0, backup.exit(), backup.err());
        String backupId = new JsonObject(backup.out()).getString("backupId");
        awaitTask(new JsonObject(backup.out()).getString("taskId"));
        CliRun backupList = CliRun.of("backups", "list", "--volume", volumeId, url);
        assertTrue(backupList.out().contains(backupId) && backupList.out().contains("COMPLETE"), backupList.out());

        CliRun delete = CliRun.of("volumes", "delete", volumeId, "--output", "json", url);
        assertEquals(0, delete.exit(), delete.err());
        awaitTask(new JsonObject(delete.out()).getString("taskId"));
        CliRun restore = CliRun.of("backups", "restore", backupId, "--to", files, "--name", "cli-restored", "--output", "json", url);
        assertEquals(0, restore.exit(), restore.err());
        awaitTask(new JsonObject(restore.out()).getString("taskId"));
        assertContent(top(new JsonObject(restore.out()).getString("volumeId")), 0, 0x7e);

        String scheduled = readyVolume("cli-scheduled", MIB);
        CliRun schedule = CliRun.of("backups", "schedule", scheduled, "--to", backups, "--every", "P1D", "--keep-last", "3", url);
        assertEquals(0, schedule.exit(), schedule.err());
        assertTrue(schedule.out().contains("PT24H") && schedule.out().contains("keepLast"), schedule.out());
        assertTrue(CliRun.of("backups", "policies", url).out().contains(scheduled));
        assertEquals(2, CliRun.of("backups", "schedule", scheduled, "--to", backups, url).exit(), "--every is required");
        CliRun unschedule = CliRun.of("backups", "unschedule", scheduled, url);
        assertEquals(0, unschedule.exit(), unschedule.err());
        assertEquals(404, http.get("/api/v1/volumes/" + scheduled + "/backup-policy").status());
    }

    private void awaitTask(String taskId) {
        JsonObject task = await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json(),
                t -> List.of("SUCCEEDED", "FAILED").contains(t.getString("status")));
        assertEquals("SUCCEEDED", task.getString("status"), task.encode());
    }

    @Test
    void badRequestsAreRefusedWithTheirField() throws Exception {
        String raw = readyVolumeOf("raw-disk", MIB, "raw");
        Http.Response noSnapshots = http.post("/api/v1/volumes/" + raw + "/snapshots", new JsonObject().put("name", "x"));
        assertEquals(409, noSnapshots.status(), noSnapshots.body());
        assertEquals("SNAPSHOTS_UNSUPPORTED", noSnapshots.json().getString("code"));
        String volumeId = readyVolume("fresh-disk", MIB);
        Http.Response nothingToBackUp = http.post("/api/v1/volumes/" + volumeId + "/backups", new JsonObject().put("targetDomainId", backups));
        assertEquals("NO_SNAPSHOT", nothingToBackUp.json().getString("code"), nothingToBackUp.body());
        snapshot(volumeId, "only");
        Http.Response notABackupDomain = http.post("/api/v1/volumes/" + volumeId + "/backups", new JsonObject().put("targetDomainId", files));
        assertEquals(400, notABackupDomain.status());
        assertEquals("targetDomainId", notABackupDomain.json().getString("field"));
        assertEquals("NOT_A_BACKUP_DOMAIN", notABackupDomain.json().getString("code"));
        Http.Response noBase = http.post("/api/v1/volumes/" + volumeId + "/backups",
                new JsonObject().put("targetDomainId", backups).put("incremental", true));
        assertEquals("NO_BASE_BACKUP", noBase.json().getString("code"), noBase.body());
        Http.Response sameName = http.post("/api/v1/volumes/" + volumeId + "/snapshots", new JsonObject().put("name", "only"));
        assertEquals("SNAPSHOT_EXISTS", sameName.json().getString("code"));
        assertEquals(404, http.delete("/api/v1/volumes/" + volumeId + "/snapshots/nope").status());
        Http.Response reserved = http.post("/api/v1/volumes/" + volumeId + "/snapshots", new JsonObject().put("name", "scheduled-1"));
        assertEquals("RESERVED_NAME", reserved.json().getString("code"), reserved.body());

        String policy = "/api/v1/volumes/" + volumeId + "/backup-policy";
        Http.Response tooOften = http.put(policy, new JsonObject().put("targetDomainId", backups).put("every", "PT1S"));
        assertEquals(400, tooOften.status(), tooOften.body());
        assertEquals("every", tooOften.json().getString("field"));
        assertEquals("OUT_OF_RANGE", tooOften.json().getString("code"));
        Http.Response notADuration = http.put(policy, new JsonObject().put("targetDomainId", backups).put("every", "hourly"));
        assertEquals("INVALID_DURATION", notADuration.json().getString("code"), notADuration.body());
        Http.Response keepNone = http.put(policy, new JsonObject().put("targetDomainId", backups).put("every", "PT1H").put("keepLast", 0));
        assertEquals("keepLast", keepNone.json().getString("field"), keepNone.body());
        Http.Response toFiles = http.put(policy, new JsonObject().put("targetDomainId", files).put("every", "PT1H"));
        assertEquals("NOT_A_BACKUP_DOMAIN", toFiles.json().getString("code"), toFiles.body());
        Http.Response rawPolicy = http.put("/api/v1/volumes/" + raw + "/backup-policy", new JsonObject().put("targetDomainId", backups).put("every", "PT1H"));
        assertEquals("SNAPSHOTS_UNSUPPORTED", rawPolicy.json().getString("code"), rawPolicy.body());
        assertEquals(404, http.get(policy).status(), "nothing refused was stored");
        assertEquals(404, http.post("/api/v1/backups/nope/restore", new JsonObject().put("targetDomainId", files).put("name", "x")).status());
    }

    private JsonObject snapshot(String volumeId, String name) {
        Http.Response r = http.post("/api/v1/volumes/" + volumeId + "/snapshots", new JsonObject().put("name", name));
        JsonObject task = task(r);
        assertEquals("SUCCEEDED", task.getString("status"), task.encode());
        return r.json();
    }

    private JsonObject backup(String volumeId, String snapshotId, boolean incremental) {
        Http.Response r = http.post("/api/v1/volumes/" + volumeId + "/backups", new JsonObject().put("targetDomainId", backups)
                .put("snapshotId", snapshotId).put("incremental", incremental));
        JsonObject task = task(r);
        assertEquals("SUCCEEDED", task.getString("status"), task.encode());
        JsonObject backup = http.get("/api/v1/backups/" + r.json().getString("backupId")).json();
        assertEquals("COMPLETE", backup.getString("status"), backup.encode());
        return backup;
    }

    private Path restore(String backupId, String name) {
        return restore(backupId, name, files);
    }

    private Path restore(String backupId, String name, String domainId) {
        Http.Response r = http.post("/api/v1/backups/" + backupId + "/restore", new JsonObject().put("targetDomainId", domainId).put("name", name));
        JsonObject task = task(r);
        assertEquals("SUCCEEDED", task.getString("status"), task.encode());
        return top(r.json().getString("volumeId"));
    }

    private List<JsonObject> backupsOf(String volumeId) {
        JsonArray all = http.get("/api/v1/volumes/" + volumeId + "/backups").array();
        List<JsonObject> list = new ArrayList<>();
        all.forEach(o -> list.add((JsonObject) o));
        return list;
    }

    private String readyVolume(String name, long size) {
        return readyVolumeOf(name, size, "qcow2");
    }

    private String readyVolumeOf(String name, long size, String format) {
        Http.Response r = http.post("/api/v1/domains/" + files + "/volumes",
                new JsonObject().put("name", name).put("virtualSize", size).put("format", format));
        assertEquals("SUCCEEDED", task(r).getString("status"));
        return r.json().getString("volumeId");
    }

    /** Waits for the task a 202 started to end; returns it. */
    private JsonObject task(Http.Response accepted) {
        return task(accepted, true);
    }

    private JsonObject task(Http.Response accepted, boolean hasTask) {
        assertEquals(202, accepted.status(), accepted.body());
        if (!hasTask) {
            return accepted.json();
        }
        String taskId = accepted.json().getString("taskId");
        return await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json(),
                t -> List.of("SUCCEEDED", "FAILED").contains(t.getString("status")));
    }

    private Path top(String volumeId) {
        return Path.of(URI.create(http.get("/api/v1/volumes/" + volumeId).json().getString("uri")));
    }

    private void write(String volumeId, int pattern, int mib) throws Exception {
        ThinVolumes.run("qemu-io", "-f", "qcow2", "-c", "write -P " + pattern + " " + mib + "M 1M", top(volumeId).toString());
    }

    private <T extends org.apache.avro.specific.SpecificRecord> List<T> events(Class<T> type, String volumeId) {
        return TopicReader.readAll(cluster.kafka.bootstrapServers(), io.storagebus.bus.Topics.EVENTS).stream()
                .filter(r -> volumeId.equals(r.key())).map(r -> {
                    try {
                        return io.storagebus.bus.MessageCodec.standard().decode(r.value());
                    } catch (io.storagebus.bus.UndecodableRecordException e) {
                        throw new AssertionError("undecodable event", e);
                    }
                })
                .filter(type::isInstance).map(type::cast).toList();
    }

    /** What a guest sees of the image (its chain flattened), read through qemu-img. */
    private byte[] content(Path image) throws Exception {
        Path raw = Files.createTempFile(tmp, "content", ".raw");
        ThinVolumes.run("qemu-img", "convert", "-U", "-O", "raw", image.toString(), raw.toString());
        byte[] all = Files.readAllBytes(raw);
        Files.delete(raw);
        return all;
    }

    /** What a guest sees of the image, one MiB per pattern. */
    private void assertContent(Path image, int... mibPatterns) throws Exception {
        byte[] all = content(image);
        for (int i = 0; i < mibPatterns.length; i++) {
            byte[] want = new byte[(int) MIB];
            Arrays.fill(want, (byte) mibPatterns[i]);
            assertArrayEquals(want, Arrays.copyOfRange(all, (int) (i * MIB), (int) ((i + 1) * MIB)), image + " MiB " + i);
        }
    }
}
