package io.storagebus.driver.lvm;

import static io.storagebus.driver.Tools.output;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.storagebus.driver.Allocation;
import io.storagebus.driver.CheckedDriver;
import io.storagebus.driver.CopyListener;
import io.storagebus.driver.CopyResult;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.Epoch;
import io.storagebus.driver.MergePlan;
import io.storagebus.driver.SnapshotInfo;
import io.storagebus.driver.SnapshotStatus;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeImage;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.VolumeCopier;
import io.storagebus.driver.file.FileDriver;
import io.storagebus.driver.object.ObjectDriver;
import io.storagebus.testkit.QemuProcess;
import io.storagebus.testkit.S3MockServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots of volumes on LVs, as oVirt makes them: every layer its own LV holding a qcow2
 * layer on the LV below, the chain in the head LV's tags. Data is written with {@code qemu-io}
 * between snapshots and every point in time read back through {@code qemu-img convert}; a
 * real QEMU switches to a new layer and streams a merged one live. Needs device-mapper: it
 * runs for real in the test VM ({@link LvmDriverInVmIT}).
 */
class LvmSnapshotTest {
    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;
    private final StorageDriver driver = new CheckedDriver(new LvmDriver(true));
    /** The S3 endpoint of an object store for the backups; none: the test starts an S3Mock of its own. */
    static final String OBJECT_STORE = "storagebus.test.objectStore";

    private TestVolumeGroup vg;
    private S3MockServer s3;
    private DomainContext domain;
    private VolumeUri volume;

    @BeforeAll
    static void needsDeviceMapper() {
        assertTrue(TestVolumeGroup.DEVICE_MAPPER || !Boolean.getBoolean(LvmDriverTest.DEVICE_MAPPER_REQUIRED),
                "device-mapper is missing (not in /proc/misc)");
        assumeTrue(TestVolumeGroup.DEVICE_MAPPER, "skipped: device-mapper is missing (not in /proc/misc), so no LV can hold a qcow2 layer here");
    }

    /**
     * Three writes, a snapshot after each of the first two: s1 = A1, s2 = A1 B2, the top = A1 B2
     * C3. A 2 GiB disk, so that each new layer gets a thin volume's first gigabyte as oVirt's
     * do; the VG's PV is sparse, so only what is written takes room.
     */
    @BeforeEach
    void volumeWithThreeWrites() throws Exception {
        vg = TestVolumeGroup.create(dir, "sbs" + Long.toHexString(System.nanoTime()).substring(4), 8192 * MIB);
        domain = new DomainContext("dom-" + vg.name, Map.of(LvmDriver.VG, vg.name), Epoch.of(3));
        volume = driver.create(domain, new VolumeSpec("disk", "disk", 2048 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 16 * MIB)).uri();
        driver.activate(domain, volume);
        try {
            write(0xA1, 0);
            driver.snapshot(domain, volume, "s1", "first", false);
            write(0xB2, 1);
            driver.snapshot(domain, volume, "s2", "second", false);
            write(0xC3, 2);
        } finally {
            driver.deactivate(domain, volume);
        }
    }

    @AfterEach
    void removeTheVolumeGroup() throws Exception {
        vg.close();
        if (s3 != null) {
            s3.close();
        }
    }

    @Test
    void everyLayerIsAnLvAndEverySnapshotKeepsItsPointInTime() throws Exception {
        assertEquals(List.of("disk", "disk+1", "disk+2"), vg.lvNames());
        List<SnapshotInfo> snapshots = driver.snapshots(domain, volume);
        assertEquals(List.of("s1", "s2"), snapshots.stream().map(SnapshotInfo::snapshotId).toList());
        assertEquals(List.of("/dev/" + vg.name + "/disk", "/dev/" + vg.name + "/disk+1"), snapshots.stream().map(SnapshotInfo::location).toList());
        assertNull(snapshots.get(0).parentSnapshotId());
        assertEquals("s1", snapshots.get(1).parentSnapshotId());
        assertTrue(snapshots.stream().allMatch(s -> s.status() == SnapshotStatus.READY));
        assertEquals("/dev/" + vg.name + "/disk+2", driver.info(domain, volume).location(), "the volume is its top layer");
        assertEquals(1024 * MIB, driver.info(domain, volume).allocatedSize(), "a new layer gets a thin volume's first allocation");

        String top = driver.activate(domain, volume);
        try {
            String chain = output("qemu-img", "info", "--backing-chain", "-U", top);
            assertTrue(chain.contains("backing file: /dev/" + vg.name + "/disk+1") && chain.contains("backing file: /dev/" + vg.name + "/disk"),
                    "each layer's header names the LV below: " + chain);
        } finally {
            driver.deactivate(domain, volume);
        }
        assertTrue(vg.lvNames().stream().noneMatch(this::active), "deactivating the volume deactivates every layer");

        assertContent(export("s1", false), 0xA1, 0, 0, 0);
        assertContent(export("s2", false), 0xA1, 0xB2, 0, 0);
        assertContent(export(null, false), 0xA1, 0xB2, 0xC3, 0);
        Path layer = export("s2", true);
        output("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", export("s1", false).toString(), "-F", "qcow2", layer.toString());
        assertContent(layer, 0xA1, 0xB2, 0, 0);
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.export(domain, volume, "s1", true));

        // Tags are input from a stranger: a chain whose tags name a layer that is not there is refused, and blocks no other volume.
        TestVolumeGroup.lvm("lvchange", "--addtag", "sb_snap=7:READY:1:s9:ghost", vg.name + "/disk");
        DriverException e = assertThrows(DriverException.class, () -> driver.info(domain, volume));
        assertEquals(DriverException.Code.IO_ERROR, e.code(), e.getMessage());
        driver.create(domain, new VolumeSpec("other", "other", 4 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED));
        assertEquals(List.of("other"), driver.list(domain).stream().map(v -> v.uri().volumeId()).toList());
    }

    @Test
    void pendingSnapshotsAreCommittedOrUndoneAndOfflineMergesKeepTheDataAndFreeTheLayer() throws Exception {
        String before = driver.info(domain, volume).location();
        SnapshotInfo pending = driver.snapshot(domain, volume, "s3", "pending", true);
        assertEquals(SnapshotStatus.PENDING, pending.status());
        assertEquals(before, pending.location(), "the pending snapshot froze the old top");
        driver.abortSnapshot(domain, volume, "s3");
        assertEquals(before, driver.info(domain, volume).location());
        assertEquals(List.of("disk", "disk+1", "disk+2"), vg.lvNames(), "the undone snapshot's layer is gone");
        driver.abortSnapshot(domain, volume, "s3");

        driver.snapshot(domain, volume, "s4", "live", true);
        assertEquals("/dev/" + vg.name + "/disk+4", driver.info(domain, volume).location(),
                "an undone layer's name is never used again: a host may still have it active");
        assertEquals(SnapshotStatus.READY, driver.commitSnapshot(domain, volume, "s4").status());
        assertEquals(SnapshotStatus.READY, driver.commitSnapshot(domain, volume, "s4").status());
        assertCode(DriverException.Code.CONFLICT, () -> driver.abortSnapshot(domain, volume, "s4"));
        assertEquals("/dev/" + vg.name + "/disk+1", driver.snapshot(domain, volume, "s2", "again", false).location(),
                "snapshots are idempotent by id");
        VolumeUri raw = driver.create(domain, new VolumeSpec("raw", "raw", 4 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED)).uri();
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.snapshot(domain, raw, "s1", "raw", false));
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.beginMerge(domain, volume, "nope"));
        driver.destroy(domain, raw, false);

        // The base: its data streamed into the child, which grew by the layer's size first.
        MergePlan plan = driver.beginMerge(domain, volume, "s1");
        assertNull(plan.base());
        assertEquals("/dev/" + vg.name + "/disk+1", plan.child());
        assertEquals(1040 * MIB, vg.lvSize("disk+1"), "the child grew by the layer's size first, so the merge has room");
        assertEquals(SnapshotStatus.MERGING, driver.snapshots(domain, volume).get(0).status());
        assertCode(DriverException.Code.CONFLICT, () -> driver.snapshot(domain, volume, "s5", "busy", false));
        driver.finishMerge(domain, volume, "s1", false);
        assertEquals(List.of("s2", "s4"), driver.snapshots(domain, volume).stream().map(SnapshotInfo::snapshotId).toList());
        assertEquals(4 * MIB, vg.lvSize("disk"), "the head keeps only the volume's tags: one extent");
        assertContent(export("s2", false), 0xA1, 0xB2, 0, 0);
        assertContent(export(null, false), 0xA1, 0xB2, 0xC3, 0);

        // The newest, into the top; a merge nobody streamed is not finished as if it were.
        driver.activate(domain, volume);
        try {
            write(0xD4, 3);
        } finally {
            driver.deactivate(domain, volume);
        }
        driver.beginMerge(domain, volume, "s4");
        assertCode(DriverException.Code.CONFLICT, () -> driver.finishMerge(domain, volume, "s4", true));
        assertEquals(List.of("disk", "disk+1", "disk+2", "disk+4"), vg.lvNames(), "nothing was dropped");
        driver.finishMerge(domain, volume, "s4", false);
        assertEquals(List.of("disk", "disk+1", "disk+4"), vg.lvNames(), "the merged layer's LV is gone");
        assertContent(export("s2", false), 0xA1, 0xB2, 0, 0);
        assertContent(export(null, false), 0xA1, 0xB2, 0xC3, 0xD4);

        driver.destroy(domain, volume, false);
        assertEquals(List.of(), vg.lvNames(), "a chained volume is destroyed whole");
    }

    /**
     * What backups and moves take out of an lvm domain and put into one: a full backup of s1 and
     * an incremental one of s2 (the SPM's backup job: an export copied and verified into the
     * target), which restore as the snapshots were; and the whole chain copied layer by layer to
     * a file domain and from there into another lvm volume, every point in time kept.
     */
    /**
     * Backups to an object store, as the SPM makes them: a full backup of s1 and an incremental
     * of s2 streamed from the LVs into S3 objects and read back as the restore reads them; then
     * the whole chain copied to a file domain and back into LVs of its own.
     */
    @Test
    void backupsAndChainCopiesTakeEveryPointInTimeOutAndBackIn() throws Exception {
        StorageDriver objects = new CheckedDriver(new ObjectDriver());
        DomainContext store = new DomainContext("backups", objectStore(), Epoch.of(3));
        CopyResult full;
        try (VolumeImage image = driver.export(domain, volume, "s1", false)) {
            full = VolumeCopier.copy(image, "s1", objects, store,
                    new VolumeSpec("b1-" + vg.name, "disk", 2048 * MIB, VolumeFormat.QCOW2, Allocation.THIN), CopyListener.NONE);
        }
        CopyResult incremental;
        try (VolumeImage image = driver.export(domain, volume, "s2", true)) {
            incremental = VolumeCopier.copy(image, "s2", objects, store,
                    new VolumeSpec("b2-" + vg.name, "disk", 2048 * MIB, VolumeFormat.QCOW2, Allocation.THIN), CopyListener.NONE);
        }
        assertTrue(full.target().location().startsWith("s3://"), full.target().location());
        Path base = download(objects, store, full);
        Path layer = download(objects, store, incremental);
        assertContent(base, 0xA1, 0, 0, 0);
        output("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2", layer.toString());
        assertContent(layer, 0xA1, 0xB2, 0, 0);

        StorageDriver files = new CheckedDriver(new FileDriver());
        DomainContext copies = new DomainContext("copies", Map.of(FileDriver.PATH, Files.createDirectories(dir.resolve("copies")).toString()),
                Epoch.of(3));
        List<SnapshotInfo> snapshots = driver.snapshots(domain, volume);
        VolumeUri copy = VolumeCopier.copyChain(driver, domain, volume, snapshots, files, copies,
                new VolumeSpec("copy", "disk", 2048 * MIB, VolumeFormat.QCOW2, Allocation.THIN), CopyListener.NONE).target().uri();
        VolumeUri back = VolumeCopier.copyChain(files, copies, copy, files.snapshots(copies, copy), driver, domain,
                new VolumeSpec("back", "disk", 2048 * MIB, VolumeFormat.QCOW2, Allocation.THIN), CopyListener.NONE).target().uri();
        assertEquals(List.of("s1", "s2"), driver.snapshots(domain, back).stream().map(SnapshotInfo::snapshotId).toList());
        assertTrue(vg.lvNames().containsAll(List.of("back", "back+1", "back+2")), "the copy's layers are LVs of its own: " + vg.lvNames());
        assertContent(export(back, "s1"), 0xA1, 0, 0, 0);
        assertContent(export(back, "s2"), 0xA1, 0xB2, 0, 0);
        assertContent(export(back, null), 0xA1, 0xB2, 0xC3, 0);
    }

    /**
     * The object store the backups go to: the one {@link #OBJECT_STORE} names (the test VM's,
     * an S3Mock on the host that {@link LvmDriverInVmIT} starts), or an S3Mock of this test's own.
     */
    private Map<String, String> objectStore() throws Exception {
        String endpoint = System.getProperty(OBJECT_STORE);
        if (endpoint == null) {
            s3 = S3MockServer.start(dir.resolve("s3"));
            return s3.domainProperties();
        }
        Map<String, String> properties = new java.util.HashMap<>(S3MockServer.properties(endpoint));
        properties.put(ObjectDriver.PREFIX, "lvm-" + vg.name);
        return properties;
    }

    private Path download(StorageDriver objects, DomainContext store, CopyResult backup) throws Exception {
        Path file = dir.resolve(backup.target().uri().volumeId() + ".qcow2");
        try (InputStream in = objects.read(store, backup.target().uri())) {
            Files.copy(in, file);
        }
        assertEquals(backup.bytes(), Files.size(file));
        return file;
    }

    /**
     * The live path with a real QEMU holding the chain open, as a host's worker drives it: a
     * pending snapshot, the guest switched to the new top ({@code blockdev-snapshot-sync}, mode
     * existing) and the snapshot committed; then a merge of the middle snapshot streamed by QEMU
     * ({@code block-stream}) and finished as streamed.
     */
    @Test
    void aRunningQemuSwitchesToANewLayerAndStreamsAMergedOne() throws Exception {
        assumeTrue(QemuProcess.available(), "skipped: no qemu-system-x86_64");
        String top = driver.activate(domain, volume);
        // A guest's disk on the chain's top, its CPU stopped (-S): what the test writes goes through the disk's device.
        try (QemuProcess qemu = QemuProcess.start(dir.resolve("qemu"), List.of("-machine", "pc", "-S",
                "-blockdev", "driver=qcow2,node-name=disk,file.driver=host_device,file.cache.direct=on,file.filename=" + top,
                "-device", "ide-hd,drive=disk,id=vd0"));
             Qmp qmp = new Qmp(qemu.qmpSocket())) {
            SnapshotInfo s3 = driver.snapshot(domain, volume, "s3", "live", true);
            String newTop = driver.activate(domain, volume);
            qmp.execute("blockdev-snapshot-sync", Map.of("node-name", "disk", "snapshot-file", newTop, "snapshot-node-name", "top3",
                    "format", "qcow2", "mode", "existing"));
            assertEquals(SnapshotStatus.READY, driver.commitSnapshot(domain, volume, s3.snapshotId()).status());
            String error = qmp.execute("human-monitor-command", Map.of("command-line", "qemu-io -d vd0 \"write -P 0xd4 3M 1M\"")).asText();
            assertTrue(error.isBlank(), "HMP answers only an error here (qemu-io prints to QEMU's stdout): " + error);

            MergePlan plan = driver.beginMerge(domain, volume, "s2");
            driver.refresh(domain, volume);
            assertEquals("/dev/" + vg.name + "/disk", plan.base());
            assertEquals("/dev/" + vg.name + "/disk+2", plan.child(), "s3's layer, below the top");
            qmp.execute("block-stream", Map.of("job-id", "merge", "device", nodeOf(qmp, plan.child()), "base-node", nodeOf(qmp, plan.base()),
                    "backing-file", plan.base()));
            qmp.awaitJobCompleted("merge");
            driver.finishMerge(domain, volume, "s2", true);
            qmp.execute("quit", Map.of());
        } finally {
            driver.deactivate(domain, volume);
        }
        assertEquals(List.of("s1", "s3"), driver.snapshots(domain, volume).stream().map(SnapshotInfo::snapshotId).toList());
        assertEquals(List.of("disk", "disk+2", "disk+3"), vg.lvNames(), "s2's layer, disk+1, was streamed into disk+2 and removed");
        assertContent(export("s1", false), 0xA1, 0, 0, 0);
        assertContent(export("s3", false), 0xA1, 0xB2, 0xC3, 0);
        assertContent(export(null, false), 0xA1, 0xB2, 0xC3, 0xD4);
    }

    private static String nodeOf(Qmp qmp, String file) throws Exception {
        for (JsonNode node : qmp.execute("query-named-block-nodes", Map.of())) {
            if (file.equals(node.path("file").asText()) && !"host_device".equals(node.path("drv").asText())) {
                return node.path("node-name").asText();
            }
        }
        throw new AssertionError("QEMU has no format node for " + file);
    }

    private boolean active(String lv) {
        try {
            return TestVolumeGroup.lvm("lvs", "--noheadings", "-o", "lv_active", vg.name + "/" + lv).trim().equals("active");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes a MiB into the volume's top, activated (again, for a new top) here. */
    private void write(int pattern, int mib) throws Exception {
        output("qemu-io", "-f", "qcow2", "-c", "write -P " + pattern + " " + mib + "M 1M", driver.activate(domain, volume));
    }

    private Path export(String snapshotId, boolean incremental) throws Exception {
        return export(volume, snapshotId, incremental);
    }

    private Path export(VolumeUri of, String snapshotId) throws Exception {
        return export(of, snapshotId, false);
    }

    private Path export(VolumeUri of, String snapshotId, boolean incremental) throws Exception {
        Path out = Files.createTempFile(dir, (snapshotId == null ? "top" : snapshotId) + (incremental ? "-inc-" : "-full-"), ".qcow2");
        try (VolumeImage image = driver.export(domain, of, snapshotId, incremental); InputStream in = image.stream()) {
            Files.copy(in, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertEquals(image.length(), Files.size(out));
        }
        return out;
    }

    private void assertContent(Path image, int... mibPatterns) throws Exception {
        Path raw = Files.createTempFile(dir, "content", ".raw");
        output("qemu-img", "convert", "-U", "-O", "raw", image.toString(), raw.toString());
        byte[] all = new byte[(int) (mibPatterns.length * MIB)];
        try (var in = Files.newInputStream(raw)) {
            in.readNBytes(all, 0, all.length);
        }
        for (int i = 0; i < mibPatterns.length; i++) {
            byte[] want = new byte[(int) MIB];
            Arrays.fill(want, (byte) mibPatterns[i]);
            assertArrayEquals(want, Arrays.copyOfRange(all, (int) (i * MIB), (int) ((i + 1) * MIB)), image + " MiB " + i);
        }
    }

    private static void assertCode(DriverException.Code code, org.junit.jupiter.api.function.Executable call) {
        DriverException e = assertThrows(DriverException.class, call);
        assertEquals(code, e.code(), e.getMessage());
    }

    /** A QMP session, one command at a time; events in between are skipped. */
    private static final class Qmp implements AutoCloseable {
        private static final ObjectMapper JSON = new ObjectMapper();
        private final SocketChannel channel;
        private final BufferedReader in;
        private final OutputStream out;
        private final List<JsonNode> events = new java.util.ArrayList<>();

        Qmp(Path socket) throws Exception {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            out = Channels.newOutputStream(channel);
            in.readLine(); // the greeting
            execute("qmp_capabilities", Map.of());
        }

        JsonNode execute(String command, Map<String, Object> arguments) throws Exception {
            out.write((JSON.writeValueAsString(Map.of("execute", command, "arguments", arguments)) + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            while (true) {
                String line = in.readLine();
                if (line == null) {
                    if ("quit".equals(command)) {
                        return JSON.nullNode();
                    }
                    throw new AssertionError("QMP closed during " + command);
                }
                JsonNode reply = JSON.readTree(line);
                if (reply.has("error")) {
                    throw new AssertionError(command + ": " + reply.get("error"));
                }
                if (reply.has("return")) {
                    return reply.get("return");
                }
                events.add(reply);
            }
        }

        /** Waits for QEMU's event that the block job ended; fails if it ended with an error. */
        void awaitJobCompleted(String jobId) throws Exception {
            while (true) {
                JsonNode event = events.isEmpty() ? JSON.readTree(in.readLine()) : events.remove(0);
                if ("BLOCK_JOB_COMPLETED".equals(event.path("event").asText()) && jobId.equals(event.path("data").path("device").asText())) {
                    assertTrue(event.path("data").path("error").isMissingNode(), "job " + jobId + " failed: " + event);
                    return;
                }
            }
        }

        @Override
        public void close() throws Exception {
            channel.close();
        }
    }
}
