package io.storagebus.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

import io.storagebus.driver.file.FileDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract of every storage driver. A driver's test class extends this and supplies the
 * driver and a fresh domain; a new driver is done when it passes. Tests that move data are
 * skipped, with the reason shown, where the driver says its data path is unavailable on this
 * machine (LVM without device-mapper).
 */
public abstract class DriverConformance {
    protected static final long MIB = 1L << 20;

    @TempDir
    protected Path scratch;

    /** The driver under test, as its author wrote it (the suite wraps it as the registry does: checked, then fenced). */
    protected abstract StorageDriver rawDriver();

    /** A domain for one test; each test gets its own. */
    protected abstract DomainContext domain() throws Exception;

    /** A spec whose volume can be written byte for byte (raw unless the driver only keeps qcow2). */
    protected VolumeSpec writableSpec(String id, long virtualSize) {
        return new VolumeSpec(id, "vol-" + id, virtualSize, VolumeFormat.RAW, Allocation.PREALLOCATED);
    }

    /**
     * Why racing writers cannot be tested against this driver's storage here, or null when they
     * can: a test server whose compare-and-set is not atomic would make the test say nothing.
     */
    protected String concurrentFenceUntestable() {
        return null;
    }

    /** Why volumes cannot be read or written here, or null when they can. */
    protected String dataPathUnavailable() {
        return null;
    }

    protected final StorageDriver driver() {
        return DriverRegistry.wrap(rawDriver());
    }

    private void requireDataPath() {
        String reason = dataPathUnavailable();
        assumeTrue(reason == null, () -> "skipped: " + reason);
    }

    protected static String id() {
        return "v" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    }

    protected static byte[] pattern(int length, long seed) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }

    protected static byte[] readAll(StorageDriver driver, DomainContext domain, VolumeUri uri, int length) throws Exception {
        try (InputStream in = driver.read(domain, uri)) {
            return in.readNBytes(length);
        }
    }

    protected static void assertCode(DriverException.Code code, Executable call) {
        DriverException e = assertThrows(DriverException.class, call);
        assertEquals(code, e.code(), e.getMessage());
        assertFalse(e.getMessage() == null || e.getMessage().isBlank(), "a typed error needs a readable message");
    }

    /** Whether hosts record lease epochs on this driver's storage ({@link StorageDriver#admitLease}). */
    protected boolean recordsLeaseEpochs() {
        return false;
    }

    @Test
    void aUseUnderAnOlderLeaseThanTheNewestIsRefusedEvenWhenRacing() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(recordsLeaseEpochs(), "this driver's hosts do not write its storage");
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeSpec spec = writableSpec(id(), 4 * MIB);
        VolumeInfo volume = driver.create(domain, spec);
        driver.admitLease(domain, volume.uri(), 5);
        driver.admitLease(domain, volume.uri(), 5); // a retried prepare under the same lease
        driver.admitLease(domain, volume.uri(), 7);
        assertCode(DriverException.Code.STALE_LEASE, () -> driver.admitLease(domain, volume.uri(), 6));

        List<Long> epochs = new java.util.ArrayList<>(java.util.stream.LongStream.rangeClosed(10, 25).boxed().toList());
        java.util.Collections.shuffle(epochs, new java.util.Random(7));
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            List<java.util.concurrent.Future<Boolean>> admitted = new java.util.ArrayList<>();
            for (long epoch : epochs) {
                admitted.add(pool.submit(() -> {
                    try {
                        driver.admitLease(domain, volume.uri(), epoch);
                        return true;
                    } catch (DriverException e) {
                        assertEquals(DriverException.Code.STALE_LEASE, e.code(), e.getMessage());
                        return false;
                    }
                }));
            }
            for (int i = 0; i < epochs.size(); i++) {
                if (epochs.get(i) == 25) {
                    assertTrue(admitted.get(i).get(), "the newest lease is always admitted");
                } else {
                    admitted.get(i).get();
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertCode(DriverException.Code.STALE_LEASE, () -> driver.admitLease(domain, volume.uri(), 24));

        driver.destroy(domain, volume.uri(), false);
        VolumeInfo again = driver.create(domain, spec);
        driver.admitLease(domain, again.uri(), 1); // a destroyed volume's record went with it
    }

    @Test
    void createdVolumeIsListedWithItsSizes() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeSpec spec = writableSpec(id(), 8 * MIB);
        VolumeInfo created = driver.create(domain, spec);

        assertEquals(new VolumeUri(domain.id(), spec.volumeId()), created.uri());
        assertEquals(8 * MIB, created.virtualSize());
        assertEquals(spec.format(), created.format());
        assertTrue(created.allocatedSize() > 0, "allocated size: " + created);
        assertTrue(created.actualSize() >= 0, "actual size: " + created);
        List<VolumeInfo> listed = driver.list(domain);
        assertTrue(listed.stream().anyMatch(v -> v.uri().equals(created.uri())), "listed: " + listed);
        assertEquals(created.virtualSize(), driver.info(domain, created.uri()).virtualSize());
    }

    @Test
    void createIsIdempotentAndAnotherSpecUnderTheSameIdConflicts() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeSpec spec = writableSpec(id(), 4 * MIB);
        VolumeInfo first = driver.create(domain, spec);
        VolumeInfo again = driver.create(domain, spec);
        assertEquals(first.uri(), again.uri());
        assertEquals(1, driver.list(domain).stream().filter(v -> v.uri().equals(first.uri())).count());
        VolumeSpec bigger = new VolumeSpec(spec.volumeId(), spec.name(), 2 * spec.virtualSize(), spec.format(), spec.allocation());
        assertCode(DriverException.Code.CONFLICT, () -> driver.create(domain, bigger));
    }

    @Test
    void writtenBytesReadBackUnchanged() throws Exception {
        requireDataPath();
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));
        byte[] data = pattern((int) (3 * MIB + 12345), 1);
        driver.write(domain, volume.uri(), new ByteArrayInputStream(data), data.length);
        assertArrayEquals(data, readAll(driver, domain, volume.uri(), data.length));
        assertTrue(driver.info(domain, volume.uri()).allocatedSize() >= data.length);
    }

    @Test
    void copyToAnotherDriverIsVerifiedAndReportsProgress() throws Exception {
        requireDataPath();
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeSpec spec = writableSpec(id(), 4 * MIB);
        VolumeInfo source = driver.create(domain, spec);
        byte[] data = pattern((int) (4 * MIB), 2);
        driver.write(domain, source.uri(), new ByteArrayInputStream(data), data.length);
        long length = driver.info(domain, source.uri()).allocatedSize();

        Path targetDir = Files.createDirectories(scratch.resolve("copy-target"));
        DomainContext target = new DomainContext("copy-target", Map.of(FileDriver.PATH, targetDir.toString()));
        StorageDriver file = new CheckedDriver(new FileDriver());
        List<Long> progress = new ArrayList<>();
        VolumeSpec targetSpec = new VolumeSpec(id(), "copy", spec.virtualSize(), spec.format(), Allocation.THIN);
        CopyResult result = driver.copyTo(domain, source.uri(), file, target, targetSpec, (copied, total) -> progress.add(copied));

        assertEquals(length, result.bytes());
        assertEquals(VolumeCopier.sha256(driver.read(domain, source.uri()), length), result.sha256());
        assertEquals(result.sha256(), VolumeCopier.sha256(file.read(target, result.target().uri()), length));
        assertEquals(length, progress.get(progress.size() - 1), "the last progress report is the total");
    }

    @Test
    void cloneHasTheSourceContent() throws Exception {
        requireDataPath();
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeSpec spec = writableSpec(id(), 4 * MIB);
        VolumeInfo source = driver.create(domain, spec);
        byte[] data = pattern((int) (2 * MIB), 3);
        driver.write(domain, source.uri(), new ByteArrayInputStream(data), data.length);

        boolean cow = driver.capabilities().contains(Capability.CLONE_COW);
        VolumeSpec cloneSpec = new VolumeSpec(id(), "clone", spec.virtualSize(), cow ? VolumeFormat.QCOW2 : spec.format(), spec.allocation());
        VolumeInfo clone = driver.clone(domain, source.uri(), cloneSpec);
        assertEquals(spec.virtualSize(), clone.virtualSize());
        if (cow) {
            assertEquals(VolumeFormat.QCOW2, clone.format());
            assertCode(DriverException.Code.CONFLICT, () -> driver.destroy(domain, source.uri(), false));
        } else {
            assertArrayEquals(data, readAll(driver, domain, clone.uri(), data.length));
        }
    }

    @Test
    void delinkHidesRestoreBringsBackPurgeRemovesForGood() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));

        driver.delink(domain, volume.uri());
        assertTrue(driver.list(domain).stream().noneMatch(v -> v.uri().equals(volume.uri())), "delinked volumes are not listed");
        assertTrue(driver.listDelinked(domain).stream().anyMatch(v -> v.uri().equals(volume.uri())));
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.info(domain, volume.uri()));
        assertCode(DriverException.Code.CONFLICT, () -> driver.create(domain, writableSpec(volume.volumeId(), 4 * MIB)));

        VolumeInfo restored = driver.restore(domain, volume.uri());
        assertEquals(volume.uri(), restored.uri());
        assertEquals(volume.virtualSize(), driver.info(domain, volume.uri()).virtualSize());

        driver.delink(domain, volume.uri());
        driver.purge(domain, volume.uri());
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.restore(domain, volume.uri()));
        assertTrue(driver.listDelinked(domain).isEmpty());
    }

    @Test
    void destroyRemovesTheVolume() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));
        driver.destroy(domain, volume.uri(), false);
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.info(domain, volume.uri()));
        assertTrue(driver.list(domain).isEmpty());
        assertTrue(driver.listDelinked(domain).isEmpty(), "destroy is not recoverable");
    }

    @Test
    void destroyWithWipeRemovesTheVolume() throws Exception {
        requireDataPath();
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));
        byte[] data = pattern((int) MIB, 4);
        driver.write(domain, volume.uri(), new ByteArrayInputStream(data), data.length);
        driver.destroy(domain, volume.uri(), true);
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.info(domain, volume.uri()));
    }

    @Test
    void unknownVolumeIsNotFound() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeUri missing = new VolumeUri(domain.id(), id());
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.info(domain, missing));
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.read(domain, missing).close());
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.delink(domain, missing));
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.restore(domain, missing));
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.purge(domain, missing));
        assertCode(DriverException.Code.NOT_FOUND, () -> driver.destroy(domain, missing, false));
    }

    @Test
    void volumeOfAnotherDomainIsRefused() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));
        VolumeUri foreign = new VolumeUri("some-other-domain", volume.volumeId());
        assertCode(DriverException.Code.INVALID_URI, () -> driver.info(domain, foreign));
        assertCode(DriverException.Code.INVALID_URI, () -> driver.destroy(domain, foreign, true));
        assertEquals(volume.uri(), driver.info(domain, volume.uri()).uri(), "the volume is untouched");
    }

    @Test
    void malformedUrisAreRefused() {
        for (String bad : List.of("file:///etc/passwd", "sb://d1/../etc", "sb://d1/a/b", "sb://d1/%2e%2e", "sb://d1/v?x=1", "/abs/path", "sb:///v1")) {
            assertCode(DriverException.Code.INVALID_URI, () -> VolumeUri.parse(bad));
        }
    }

    @Test
    void optionalOperationsWithoutTheirCapabilityAreTypedErrors() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));
        if (!driver.capabilities().contains(Capability.EXTENDABLE)) {
            assertCode(DriverException.Code.UNSUPPORTED, () -> driver.extend(domain, volume.uri(), 8 * MIB));
        }
        if (!driver.capabilities().contains(Capability.REFRESH)) {
            assertCode(DriverException.Code.UNSUPPORTED, () -> driver.refresh(domain, volume.uri()));
        }
        if (!driver.capabilities().contains(Capability.RESIZE)) {
            assertCode(DriverException.Code.UNSUPPORTED, () -> driver.resize(domain, volume.uri(), 8 * MIB));
        }
        if (!driver.capabilities().contains(Capability.ACTIVATE)) {
            assertCode(DriverException.Code.UNSUPPORTED, () -> driver.activate(domain, volume.uri()));
            assertCode(DriverException.Code.UNSUPPORTED, () -> driver.deactivate(domain, volume.uri()));
        }
    }

    @Test
    void extendGrowsAThinVolumeButNeverBeyondItsVirtualSize() throws Exception {
        StorageDriver driver = driver();
        assumeTrue(driver.capabilities().contains(Capability.EXTENDABLE), "skipped: driver is not EXTENDABLE");
        requireDataPath(); // a thin qcow2 volume on block storage needs its header written
        DomainContext domain = domain();
        VolumeSpec thin = new VolumeSpec(id(), "thin", 64 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 8 * MIB);
        VolumeInfo volume = driver.create(domain, thin);
        assertTrue(volume.allocatedSize() < thin.virtualSize(), "a thin volume starts below its virtual size: " + volume);

        VolumeInfo grown = driver.extend(domain, volume.uri(), volume.allocatedSize() + 16 * MIB);
        assertTrue(grown.allocatedSize() >= volume.allocatedSize() + 16 * MIB, "extended: " + grown);
        VolumeInfo capped = driver.extend(domain, volume.uri(), 10 * thin.virtualSize());
        assertTrue(capped.allocatedSize() < thin.virtualSize() + 8 * MIB, "capped at virtual size plus qcow2 metadata: " + capped);
    }

    @Test
    void resizeGrowsTheVirtualSizeKeepsTheDataAndNeverShrinks() throws Exception {
        StorageDriver driver = driver();
        assumeTrue(driver.capabilities().contains(Capability.RESIZE), "skipped: driver does not RESIZE");
        requireDataPath();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));
        byte[] data = pattern((int) (4 * MIB), 7);
        driver.write(domain, volume.uri(), new ByteArrayInputStream(data), data.length);

        VolumeInfo grown = driver.resize(domain, volume.uri(), 12 * MIB);
        assertEquals(12 * MIB, grown.virtualSize());
        assertEquals(12 * MIB, driver.info(domain, volume.uri()).virtualSize(), "the new size is the volume's, read back");
        assertEquals(12 * MIB, driver.list(domain).get(0).virtualSize(), "and listed");
        byte[] read = readAll(driver, domain, volume.uri(), (int) (12 * MIB));
        assertArrayEquals(data, java.util.Arrays.copyOf(read, data.length), "the data stays");
        assertArrayEquals(new byte[(int) (8 * MIB)], java.util.Arrays.copyOfRange(read, data.length, read.length), "the new space reads as zeros");

        assertEquals(12 * MIB, driver.resize(domain, volume.uri(), 12 * MIB).virtualSize(), "the same size again is no change");
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.resize(domain, volume.uri(), 8 * MIB));
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.resize(domain, volume.uri(), 0));
        assertEquals(12 * MIB, driver.info(domain, volume.uri()).virtualSize(), "a refused shrink changes nothing");
    }

    /**
     * Live: the driver makes room first (a device grown), the guest's QEMU grows the image it has
     * open (here {@code qemu-img}, as {@code block_resize} would), and the resize that follows only
     * records the size: the image is not grown twice and the data stays.
     */
    @Test
    void aLiveResizeMakesRoomFirstAndThenRecordsTheSizeTheGuestGrewTo() throws Exception {
        StorageDriver driver = driver();
        assumeTrue(driver.capabilities().contains(Capability.RESIZE), "skipped: driver does not RESIZE");
        requireDataPath();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));
        byte[] data = pattern((int) (4 * MIB), 9);
        driver.write(domain, volume.uri(), new ByteArrayInputStream(data), data.length);

        driver.prepareLiveResize(domain, volume.uri(), 12 * MIB);
        assertEquals(4 * MIB, driver.info(domain, volume.uri()).virtualSize(), "the recorded size waits for the guest's");
        String location = driver.info(domain, volume.uri()).location();
        Path image = location.startsWith("file:") ? Path.of(java.net.URI.create(location))
                : Path.of(location);
        if (driver.capabilities().contains(Capability.ACTIVATE)) {
            assertTrue(Files.size(image) >= 12 * MIB, "a device is grown before its guest grows the image on it");
        } else {
            io.storagebus.driver.support.Processes.run(List.of("qemu-img", "resize", "-q", "-f", "raw", image.toString(),
                    Long.toString(12 * MIB)));
        }
        assertEquals(12 * MIB, driver.resize(domain, volume.uri(), 12 * MIB).virtualSize());
        byte[] read = readAll(driver, domain, volume.uri(), (int) (12 * MIB));
        assertArrayEquals(data, java.util.Arrays.copyOf(read, data.length), "the data stays");
        assertArrayEquals(new byte[(int) (8 * MIB)], java.util.Arrays.copyOfRange(read, data.length, read.length), "the new space reads as zeros");
        assertCode(DriverException.Code.INVALID_SPEC, () -> driver.prepareLiveResize(domain, volume.uri(), 8 * MIB));
    }

    @Test
    void anotherDomainOnTheSameStorageFindsTheVolumesUnderItsOwnId() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 4 * MIB));
        // The same storage attached as a new domain (a new pool, a rebuilt manager): import.
        DomainContext attached = new DomainContext("attached-" + id(), domain.properties());
        assertEquals(driver.storageId(domain.properties()), driver.storageId(attached.properties()));
        List<VolumeInfo> found = driver.list(attached);
        assertEquals(1, found.size(), "found: " + found);
        assertEquals(new VolumeUri(attached.id(), volume.volumeId()), found.get(0).uri());
        assertEquals(volume.name(), found.get(0).name());
        assertEquals(volume.virtualSize(), found.get(0).virtualSize());
        assertEquals(volume.virtualSize(), driver.info(attached, found.get(0).uri()).virtualSize());
    }

    @Test
    void aDeposedSpmCannotWriteOnceANewerEpochHas() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        DomainContext term5 = domain.withEpoch(5);
        DomainContext term4 = domain.withEpoch(4);
        VolumeInfo volume = driver.create(term5, writableSpec(id(), 4 * MIB));

        assertThrows(FencedException.class, () -> driver.create(term4, writableSpec(id(), 4 * MIB)));
        assertThrows(FencedException.class, () -> driver.delink(term4, volume.uri()));
        assertThrows(FencedException.class, () -> driver.destroy(term4, volume.uri(), false));
        assertEquals(1, driver.list(domain).size(), "nothing an older epoch tried may have happened");

        driver.delink(domain.withEpoch(6), volume.uri());
        FencedException fenced = assertThrows(FencedException.class, () -> driver.restore(term5, volume.uri()));
        assertEquals(Epoch.of(5), fenced.writer());
        assertEquals(Epoch.of(6), fenced.highest());
        driver.restore(domain.withEpoch(6), volume.uri());
        assertEquals(volume.uri(), driver.info(domain, volume.uri()).uri(), "reads need no epoch");
    }

    /**
     * Every operation that changes storage, called under an epoch older than one that has
     * written the domain, is refused before it changes anything. The table must name every
     * operation {@link FencedDriver#MUTATING} lists, so a new one cannot go unfenced in any driver.
     */
    @Test
    void everyMutatingOperationIsFenced() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain.withEpoch(7), writableSpec(id(), 4 * MIB));
        assertEquals(Epoch.of(7), driver.fence().highest(domain), "the storage records the epoch that wrote it");
        DomainContext old = domain.withEpoch(6);
        VolumeUri uri = volume.uri();
        Map<String, Executable> calls = new java.util.TreeMap<>();
        calls.put("create", () -> driver.create(old, writableSpec(id(), 4 * MIB)));
        calls.put("write", () -> driver.write(old, uri, new java.io.ByteArrayInputStream(new byte[512]), 512));
        calls.put("clone", () -> driver.clone(old, uri, new VolumeSpec(id(), "c", 4 * MIB, VolumeFormat.QCOW2, Allocation.THIN)));
        calls.put("delink", () -> driver.delink(old, uri));
        calls.put("restore", () -> driver.restore(old, uri));
        calls.put("purge", () -> driver.purge(old, uri));
        calls.put("destroy", () -> driver.destroy(old, uri, true));
        calls.put("extend", () -> driver.extend(old, uri, 64 * MIB));
        calls.put("resize", () -> driver.resize(old, uri, 64 * MIB));
        calls.put("prepareLiveResize", () -> driver.prepareLiveResize(old, uri, 64 * MIB));
        calls.put("snapshot", () -> driver.snapshot(old, uri, "s" + id(), "s", false));
        calls.put("importLayer", () -> driver.importLayer(old, uri, "s" + id(), "s", new java.io.ByteArrayInputStream(new byte[512]), 512));
        calls.put("commitSnapshot", () -> driver.commitSnapshot(old, uri, "s" + id()));
        calls.put("abortSnapshot", () -> driver.abortSnapshot(old, uri, "s" + id()));
        calls.put("beginMerge", () -> driver.beginMerge(old, uri, "s" + id()));
        calls.put("finishMerge", () -> driver.finishMerge(old, uri, "s" + id(), false));
        calls.put("putManifest", () -> driver.putManifest(old, "b" + id(), new byte[] {'{', '}'}));
        calls.put("deleteBackup", () -> driver.deleteBackup(old, "b" + id()));
        assertEquals(FencedDriver.MUTATING, calls.keySet(), "the table of mutating operations");
        for (Map.Entry<String, Executable> call : calls.entrySet()) {
            Throwable refused = assertThrows(Throwable.class, call.getValue(), call.getKey() + " under an older epoch was not refused");
            if (refused instanceof DriverException e) {
                // An operation this driver does not offer is refused before any epoch matters.
                assertEquals(DriverException.Code.UNSUPPORTED, e.code(), call.getKey() + ": " + e.getMessage());
            } else {
                FencedException fenced = assertInstanceOf(FencedException.class, refused, call.getKey() + " failed otherwise than fenced");
                assertEquals(Epoch.of(7), fenced.highest(), call.getKey());
            }
        }
        assertEquals(List.of(volume.uri()), driver.list(domain).stream().map(VolumeInfo::uri).toList(), "nothing changed");
        assertEquals(Epoch.of(7), driver.fence().highest(domain));
    }

    /** Terms racing to record their epochs: the highest wins and the record never goes back. */
    @Test
    void theFenceIsACompareAndSetUnderRacingTerms() throws Exception {
        String untestable = concurrentFenceUntestable();
        assumeTrue(untestable == null, () -> "skipped: " + untestable);
        StorageDriver driver = driver();
        DomainContext domain = domain();
        List<Thread> threads = new java.util.ArrayList<>();
        java.util.Queue<Throwable> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
        for (long epoch = 1; epoch <= 6; epoch++) {
            DomainContext term = domain.withEpoch(epoch);
            Thread t = new Thread(() -> {
                try {
                    driver.fence().advance(term);
                } catch (FencedException e) {
                    // a newer term came first: the expected outcome for all but the newest
                } catch (DriverException | RuntimeException e) {
                    failures.add(e); // handed to the test's thread, which asserts there are none
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(List.of(), List.copyOf(failures));
        assertEquals(Epoch.of(6), driver.fence().highest(domain));
        assertThrows(FencedException.class, () -> driver.fence().advance(domain.withEpoch(5)));
    }

    @Test
    void everyRequiredPropertyIsDeclaredAndChecked() {
        StorageDriver driver = driver();
        PropertyValidator.Result result = PropertyValidator.validate(driver, Map.of("no-such-property", "x"));
        assertFalse(result.valid());
        assertTrue(result.violations().stream().anyMatch(v -> v.code().equals("UNKNOWN_PROPERTY")));
        for (PropertyDescriptor d : driver.properties()) {
            assertFalse(d.description().isBlank(), d.name() + " needs a description");
            if (d.required()) {
                assertTrue(result.violations().stream().anyMatch(v -> v.property().equals(d.name()) && v.code().equals("REQUIRED")),
                        d.name() + " is required: " + result.violations());
            }
        }
    }

    /** Runs a tool that must succeed and returns what it printed. */
    protected static String output(String... cmd) throws IOException, InterruptedException {
        return Tools.output(cmd);
    }

    protected static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }
}
