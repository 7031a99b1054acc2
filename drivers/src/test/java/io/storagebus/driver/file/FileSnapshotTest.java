package io.storagebus.driver.file;

import static io.storagebus.driver.Tools.output;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.CheckedDriver;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.MergePlan;
import io.storagebus.driver.SnapshotInfo;
import io.storagebus.driver.SnapshotStatus;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeImage;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots of file volumes as real qcow2 chains: data written with {@code qemu-io} between
 * snapshots, every point in time read back through {@code qemu-img convert}.
 */
class FileSnapshotTest {
    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;
    private final StorageDriver driver = new CheckedDriver(new FileDriver());
    private DomainContext domain;
    private VolumeUri volume;

    @BeforeEach
    void volumeWithThreeWrites() throws Exception {
        domain = new DomainContext("files", Map.of(FileDriver.PATH, dir.toString()), io.storagebus.driver.Epoch.of(3));
        volume = driver.create(domain, new VolumeSpec("disk", "disk", 4 * MIB, VolumeFormat.QCOW2, Allocation.THIN)).uri();
        write(0xA1, 0);
        driver.snapshot(domain, volume, "s1", "first", false);
        write(0xB2, 1);
        driver.snapshot(domain, volume, "s2", "second", false);
        write(0xC3, 2);
    }

    @Test
    void everySnapshotKeepsItsPointInTime() throws Exception {
        List<SnapshotInfo> snapshots = driver.snapshots(domain, volume);
        assertEquals(List.of("s1", "s2"), snapshots.stream().map(SnapshotInfo::snapshotId).toList());
        assertNull(snapshots.get(0).parentSnapshotId());
        assertEquals("s1", snapshots.get(1).parentSnapshotId());
        assertTrue(snapshots.stream().allMatch(s -> s.status() == SnapshotStatus.READY));

        assertContent(export("s1", false), 0xA1, 0, 0, 0);
        assertContent(export("s2", false), 0xA1, 0xB2, 0, 0);
        assertContent(top(), 0xA1, 0xB2, 0xC3, 0);
        output("qemu-img", "check", top().toString());
        try (VolumeImage oldest = driver.export(domain, volume, "s1", false); var files = Files.list(dir.resolve("volumes"))) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().contains(".export.")),
                    "the oldest layer backs onto nothing: it is exported as it is, not flattened into a temporary copy");
        }
    }

    @Test
    void aVolumeWithSnapshotsGrowsAtItsTopAndItsSnapshotsKeepTheirSize() throws Exception {
        driver.resize(domain, volume, 8 * MIB);
        assertEquals(8 * MIB, driver.info(domain, volume).virtualSize());
        write(0xE5, 7);
        assertContent(top(), 0xA1, 0xB2, 0xC3, 0, 0, 0, 0, 0xE5);
        assertContent(export("s2", false), 0xA1, 0xB2, 0, 0);
        output("qemu-img", "check", top().toString());
        assertTrue(output("qemu-img", "info", "-U", "--output=json", export("s2", false).toString()).contains("\"virtual-size\": " + 4 * MIB),
                "the snapshot keeps its size");
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.resize(domain, volume, 4 * MIB));
    }

    @Test
    void anIncrementalLayerOnItsParentsFullImageIsTheSnapshot() throws Exception {
        Path base = export("s1", false);
        Path layer = export("s2", true);
        assertTrue(Files.size(layer) < Files.size(export("s2", false)) + MIB);
        output("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2", layer.toString());
        assertContent(layer, 0xA1, 0xB2, 0, 0);
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.export(domain, volume, "s1", true));
    }

    @Test
    void mergingTheBaseOrAMiddleSnapshotOfflineKeepsTheData() throws Exception {
        MergePlan plan = driver.beginMerge(domain, volume, "s1");
        assertNull(plan.base());
        assertEquals(SnapshotStatus.MERGING, driver.snapshots(domain, volume).get(0).status());
        assertCode(DriverException.Code.CONFLICT, () -> driver.snapshot(domain, volume, "s3", "busy", false));
        driver.finishMerge(domain, volume, "s1", false);
        assertFalse(Files.exists(Path.of(plan.layer())), "the merged layer's file is gone");
        assertEquals(List.of("s2"), driver.snapshots(domain, volume).stream().map(SnapshotInfo::snapshotId).toList());
        assertContent(export("s2", false), 0xA1, 0xB2, 0, 0);
        assertContent(top(), 0xA1, 0xB2, 0xC3, 0);

        driver.snapshot(domain, volume, "s3", "third", false);
        write(0xD4, 3);
        driver.beginMerge(domain, volume, "s3");
        driver.finishMerge(domain, volume, "s3", false);
        assertContent(export("s2", false), 0xA1, 0xB2, 0, 0);
        assertContent(top(), 0xA1, 0xB2, 0xC3, 0xD4);
        output("qemu-img", "check", top().toString());
    }

    @Test
    void aMergeNobodyStreamedIsNotFinished() throws Exception {
        driver.beginMerge(domain, volume, "s2");
        assertCode(DriverException.Code.CONFLICT, () -> driver.finishMerge(domain, volume, "s2", true));
        assertEquals(2, driver.snapshots(domain, volume).size(), "nothing was dropped");
        assertContent(top(), 0xA1, 0xB2, 0xC3, 0);
    }

    @Test
    void aPendingSnapshotIsCommittedOrUndone() throws Exception {
        Path before = top();
        SnapshotInfo pending = driver.snapshot(domain, volume, "s3", "pending", true);
        assertEquals(SnapshotStatus.PENDING, pending.status());
        Path overlay = top();
        assertEquals(before.toUri().toString(), pending.location());
        driver.abortSnapshot(domain, volume, "s3");
        assertEquals(before, top());
        assertFalse(Files.exists(overlay));
        driver.abortSnapshot(domain, volume, "s3"); // idempotent

        driver.snapshot(domain, volume, "s4", "live", true);
        assertEquals(SnapshotStatus.READY, driver.commitSnapshot(domain, volume, "s4").status());
        assertEquals(SnapshotStatus.READY, driver.commitSnapshot(domain, volume, "s4").status());
        assertCode(DriverException.Code.CONFLICT, () -> driver.abortSnapshot(domain, volume, "s4"));
    }

    @Test
    void snapshotsAreIdempotentAndOnlyForQcow2() throws Exception {
        Path topBefore = top();
        driver.snapshot(domain, volume, "s2", "again", false);
        assertEquals(topBefore, top());
        VolumeUri raw = driver.create(domain, new VolumeSpec("raw", "raw", MIB, VolumeFormat.RAW, Allocation.THIN)).uri();
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.snapshot(domain, raw, "s1", "raw", false));
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.beginMerge(domain, volume, "nope"));
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.snapshot(domain, volume, "../x", "bad", false));
    }

    @Test
    void aChainedVolumeIsCopiedFlatAndDestroyedWhole() throws Exception {
        try (VolumeImage now = driver.export(domain, volume, null, false)) {
            Path copy = dir.resolve("now.qcow2");
            Files.copy(now.stream(), copy);
            assertEquals(now.length(), Files.size(copy));
            assertContent(copy, 0xA1, 0xB2, 0xC3, 0);
        }
        assertTrue(Files.list(dir.resolve("volumes")).noneMatch(f -> f.getFileName().toString().contains(".export.")),
                "the flattened export is removed when closed");
        driver.destroy(domain, volume, false);
        assertTrue(Files.list(dir.resolve("volumes")).noneMatch(f -> f.getFileName().toString().startsWith("disk.")),
                "every layer is gone");
    }

    /**
     * A chain copied to another domain, a file one and a block one, keeps every point in time
     * under the same snapshot ids, each layer verified, and the target's layers back onto each
     * other there, not onto the source's files.
     */
    @Test
    void aChainIsCopiedLayerByLayerToAnotherDomainOfAnyDirectoryDriver() throws Exception {
        List<SnapshotInfo> snapshots = driver.snapshots(domain, volume);
        StorageDriver blocks = new CheckedDriver(new io.storagebus.driver.blockfile.BlockfileDriver());
        for (StorageDriver target : List.of(driver, blocks)) {
            Path where = Files.createDirectories(dir.resolve("copy-" + target.name()));
            DomainContext other = new DomainContext("other-" + target.name(), Map.of(FileDriver.PATH, where.toString()),
                    io.storagebus.driver.Epoch.of(3));
            java.util.List<Long> progress = new java.util.ArrayList<>();
            io.storagebus.driver.CopyResult result = io.storagebus.driver.VolumeCopier.copyChain(driver, domain, volume, snapshots, target,
                    other, new VolumeSpec("disk", "disk", 4 * MIB, VolumeFormat.QCOW2, Allocation.THIN), (copied, total) -> progress.add(copied));
            assertEquals(result.bytes(), progress.get(progress.size() - 1), "progress ends at the chain's size");
            assertEquals(64, result.sha256().length());
            VolumeUri copy = result.target().uri();
            assertEquals(List.of("s1", "s2"), target.snapshots(other, copy).stream().map(SnapshotInfo::snapshotId).toList());
            assertEquals(List.of("first", "second"), target.snapshots(other, copy).stream().map(SnapshotInfo::name).toList());
            assertContent(exported(target, other, copy, "s1"), 0xA1, 0, 0, 0);
            assertContent(exported(target, other, copy, "s2"), 0xA1, 0xB2, 0, 0);
            Path top = Path.of(URI.create(result.target().location()));
            assertContent(top, 0xA1, 0xB2, 0xC3, 0);
            assertTrue(output("qemu-img", "info", "--backing-chain", "-U", top.toString()).lines()
                    .filter(l -> l.startsWith("backing file:")).noneMatch(l -> l.contains(dir.resolve("volumes").toString())),
                    "the copy's chain stays in its own domain");
        }
    }

    private Path exported(StorageDriver target, DomainContext other, VolumeUri copy, String snapshotId) throws Exception {
        Path out = Files.createTempFile(dir, snapshotId + "-copied-", ".qcow2");
        try (VolumeImage image = target.export(other, copy, snapshotId, false); InputStream in = image.stream()) {
            Files.copy(in, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return out;
    }

    private void write(int pattern, int mib) throws Exception {
        output("qemu-io", "-f", "qcow2", "-c", "write -P " + pattern + " " + mib + "M 1M", top().toString());
    }

    private Path top() throws DriverException {
        return Path.of(URI.create(driver.info(domain, volume).location()));
    }

    private Path export(String snapshotId, boolean incremental) throws Exception {
        Path out = Files.createTempFile(dir, snapshotId + (incremental ? "-inc-" : "-full-"), ".qcow2");
        try (VolumeImage image = driver.export(domain, volume, snapshotId, incremental); InputStream in = image.stream()) {
            Files.copy(in, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertEquals(image.length(), Files.size(out));
        }
        return out;
    }

    private void assertContent(Path image, int... mibPatterns) throws Exception {
        Path raw = Files.createTempFile(dir, "content", ".raw");
        output("qemu-img", "convert", "-U", "-O", "raw", image.toString(), raw.toString());
        byte[] all = Files.readAllBytes(raw);
        for (int i = 0; i < mibPatterns.length; i++) {
            byte[] want = new byte[(int) MIB];
            Arrays.fill(want, (byte) mibPatterns[i]);
            assertArrayEquals(want, Arrays.copyOfRange(all, (int) (i * MIB), (int) ((i + 1) * MIB)), image + " MiB " + i);
        }
    }

    private static void assertCode(DriverException.Code code, org.junit.jupiter.api.function.Executable call) {
        DriverException e = org.junit.jupiter.api.Assertions.assertThrows(DriverException.class, call);
        assertEquals(code, e.code(), e.getMessage());
    }
}
