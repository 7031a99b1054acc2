package io.storagebus.driver.blockfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverConformance;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The blockfile driver with real loop devices (needs root, as on hypervisor hosts). */
class BlockfileDriverTest extends DriverConformance {

    @BeforeAll
    static void needsLoopDevices() {
        assumeTrue("root".equals(System.getProperty("user.name")) && Files.exists(Path.of("/dev/loop-control")),
                "skipped: loop devices need root and /dev/loop-control");
    }

    @Override
    protected boolean recordsLeaseEpochs() {
        return true;
    }

    @Override
    protected StorageDriver rawDriver() {
        return new BlockfileDriver();
    }

    @Override
    protected DomainContext domain() throws Exception {
        Path dir = Files.createDirectories(scratch.resolve("domain-" + id()));
        return new DomainContext("dom-" + dir.getFileName(), Map.of(BlockfileDriver.PATH, dir.toString()));
    }

    @Test
    void thinRawIsRefusedBecauseBlockRawIsTheDiskItself() throws Exception {
        DomainContext domain = domain();
        assertCode(DriverException.Code.INVALID_SPEC,
                () -> driver().create(domain, new VolumeSpec("raw-thin", "r", 8 * MIB, VolumeFormat.RAW, Allocation.THIN)));
        assertTrue(driver().list(domain).isEmpty());
    }

    @Test
    void activatedVolumeGrowsOnTheLoopDeviceAfterExtendAndRefresh() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, new VolumeSpec(id(), "grow", 256 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 16 * MIB));
        String device = driver.activate(domain, volume.uri());
        try {
            assertTrue(Files.readSymbolicLink(Path.of(device)).toString().startsWith("/dev/loop"), device);
            assertEquals(device, driver.activate(domain, volume.uri()), "activate is idempotent");
            assertEquals(16 * MIB, deviceSize(device));
            String info = output("qemu-img", "info", "--output=json", device);
            assertTrue(info.contains("\"format\": \"qcow2\""), "the device holds the qcow2 image: " + info);

            driver.extend(domain, volume.uri(), 48 * MIB);
            assertEquals(16 * MIB, deviceSize(device), "hosts see the old size until they refresh");
            driver.refresh(domain, volume.uri());
            assertEquals(48 * MIB, deviceSize(device));

            assertCode(DriverException.Code.CONFLICT, () -> driver.destroy(domain, volume.uri(), false));
        } finally {
            driver.deactivate(domain, volume.uri());
        }
        assertTrue(BlockfileDriver.attached(Path.of(java.net.URI.create(volume.location()))).isEmpty());
        driver.destroy(domain, volume.uri(), false);
    }

    @Test
    void capacityLimitsCreatesAndExtendsLikeAVolumeGroup() throws Exception {
        StorageDriver driver = driver();
        Path dir = Files.createDirectories(scratch.resolve("capped-" + id()));
        DomainContext domain = new DomainContext("dom-capped", Map.of(BlockfileDriver.PATH, dir.toString(), BlockfileDriver.CAPACITY, "64M"));
        assertEquals(64 * MIB, driver.freeSpace(domain).orElseThrow());
        assertEquals(64 * MIB, driver.totalSpace(domain).orElseThrow(), "a capacity is the domain's size");
        DomainContext uncapped = new DomainContext("dom-uncapped", Map.of(BlockfileDriver.PATH, dir.toString()));
        assertEquals(dir.toFile().getTotalSpace(), driver.totalSpace(uncapped).orElseThrow(), "else its file system's");
        VolumeInfo volume = driver.create(domain, new VolumeSpec(id(), "capped", 256 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 16 * MIB));
        assertEquals(48 * MIB, driver.freeSpace(domain).orElseThrow());

        driver.extend(domain, volume.uri(), 64 * MIB);
        assertEquals(0, driver.freeSpace(domain).orElseThrow());
        assertCode(DriverException.Code.NO_SPACE, () -> driver.extend(domain, volume.uri(), 80 * MIB));
        assertEquals(64 * MIB, driver.info(domain, volume.uri()).allocatedSize(), "a refused extend changes nothing");
        assertCode(DriverException.Code.NO_SPACE,
                () -> driver.create(domain, new VolumeSpec(id() + "-2", "more", 64 * MIB, VolumeFormat.QCOW2, Allocation.THIN, MIB)));
    }

    /**
     * Under a term, free space comes from the ledger; whatever happened (creates and extends from
     * several threads, a snapshot, a delete) it equals what a scan of the storage says, and the
     * capacity is never exceeded: racing creates that each fit alone are admitted only while
     * they fit together, because the check is made again under the domain's lock.
     */
    @Test
    void theCapacityLedgerAgreesWithTheStorageAndRacingCreatesNeverExceedTheCapacity() throws Exception {
        StorageDriver driver = driver();
        Path dir = Files.createDirectories(scratch.resolve("ledger-" + id()));
        DomainContext domain = new DomainContext("dom-ledger", Map.of(BlockfileDriver.PATH, dir.toString(), BlockfileDriver.CAPACITY, "160M"))
                .withEpoch(1);
        assertEquals(160 * MIB, driver.freeSpace(domain).orElseThrow());

        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> creates = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                String volumeId = id() + "-" + i;
                creates.add(threads.submit(() -> {
                    VolumeInfo v;
                    try {
                        v = driver.create(domain, new VolumeSpec(volumeId, volumeId, 32 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 12 * MIB));
                    } catch (DriverException e) {
                        assertEquals(DriverException.Code.NO_SPACE, e.code(), e.getMessage());
                        return false;
                    }
                    try {
                        driver.extend(domain, v.uri(), 16 * MIB);
                    } catch (DriverException e) {
                        assertEquals(DriverException.Code.NO_SPACE, e.code(), e.getMessage());
                    }
                    return true;
                }));
            }
            long made = 0;
            for (Future<Boolean> f : creates) {
                made += f.get() ? 1 : 0;
            }
            assertTrue(made >= 10 && made <= 13, "creates admitted (12 MiB each, then 4 MiB more each while there is room): " + made);
        } finally {
            threads.shutdownNow();
        }
        assertTrue(usedOnStorage(dir) <= 160 * MIB, "the capacity holds: " + usedOnStorage(dir));
        assertEquals(scannedFree(domain), driver.freeSpace(domain).orElseThrow());

        List<VolumeInfo> volumes = driver.list(domain);
        for (int i = 1; i <= 3; i++) {
            driver.destroy(domain, volumes.get(i).uri(), false);
        }
        assertEquals(scannedFree(domain), driver.freeSpace(domain).orElseThrow(), "after deletes");
        driver.snapshot(domain, volumes.get(0).uri(), "snap-1", "s", false);
        assertEquals(scannedFree(domain), driver.freeSpace(domain).orElseThrow(), "after a snapshot");
        assertEquals(scannedFree(domain), driver.freeSpace(domain.withEpoch(2)).orElseThrow(), "a new term starts from the storage");
    }

    /** Free space by a scan: a new driver has no ledger account yet. */
    private static long scannedFree(DomainContext domain) throws DriverException {
        return new BlockfileDriver().freeSpace(domain).orElseThrow();
    }

    private static long usedOnStorage(Path dir) throws java.io.IOException {
        try (var files = Files.list(dir.resolve("volumes"))) {
            long used = 0;
            for (Path f : files.filter(f -> f.toString().endsWith(".img")).toList()) {
                used += Files.size(f);
            }
            return used;
        }
    }

    @Test
    void writingMoreThanTheAllocationIsNoSpace() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, new VolumeSpec(id(), "small", 64 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 2 * MIB));
        byte[] data = pattern((int) (3 * MIB), 5);
        assertCode(DriverException.Code.NO_SPACE, () -> driver.write(domain, volume.uri(), new ByteArrayInputStream(data), data.length));
    }

    /**
     * A chain of loop devices: a snapshot's new layer gets a thin first allocation, the activated
     * top's link shows every layer's data through links to the layers' devices, a merge first
     * grows the child by the layer's size, and deactivating detaches every layer's device.
     */
    @Test
    void snapshotLayersAreLoopDevicesLinkedSoTheChainResolvesAndMergesMakeRoomFirst() throws Exception {
        System.setProperty(BlockfileDriver.RUN_DIR_PROPERTY, scratch.resolve("run").toString());
        try {
            chainOfLoopDevices();
        } finally {
            System.clearProperty(BlockfileDriver.RUN_DIR_PROPERTY);
        }
    }

    private void chainOfLoopDevices() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, new VolumeSpec(id(), "chain", 4096 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 8 * MIB));
        Path base = Path.of(java.net.URI.create(volume.location()));
        output("qemu-io", "-f", "qcow2", "-c", "write -P 0x31 0 1M", base.toString());
        driver.snapshot(domain, volume.uri(), "s1", "s1", false);
        VolumeInfo top = driver.info(domain, volume.uri());
        Path topFile = Path.of(java.net.URI.create(top.location()));
        assertTrue(topFile.getFileName().toString().endsWith(".g1.img"), topFile.toString());
        assertEquals(sizeOf(topFile), top.allocatedSize(), "the top's allocation is its own file");
        assertTrue(sizeOf(topFile) >= 8 * MIB, "a new layer gets a thin first allocation: " + sizeOf(topFile));

        String active = driver.activate(domain, volume.uri());
        try {
            assertEquals(topFile.getFileName(), Path.of(active).getFileName(), "the top's link is named as its file");
            output("qemu-io", "-f", "qcow2", "-c", "write -P 0x32 1M 1M", active);
            assertReads(active);
            assertEquals(2, BlockfileDriver.attached(base).size() + BlockfileDriver.attached(topFile).size(), "one device per layer");
            assertCode(DriverException.Code.CONFLICT, () -> driver.destroy(domain, volume.uri(), false));
        } finally {
            driver.deactivate(domain, volume.uri());
        }
        assertTrue(BlockfileDriver.attached(base).isEmpty() && BlockfileDriver.attached(topFile).isEmpty(), "every layer detached");
        assertTrue(Files.notExists(Path.of(active).getParent()), "the links are gone");

        long before = sizeOf(topFile);
        driver.beginMerge(domain, volume.uri(), "s1");
        assertEquals(before + sizeOf(base), sizeOf(topFile), "the child has room for the layer before its data moves");
        driver.finishMerge(domain, volume.uri(), "s1", false);
        assertTrue(Files.notExists(base), "the merged layer is gone");
        assertReads(topFile.toString());
        driver.destroy(domain, volume.uri(), false);
    }

    /** Both points in time show through the image: 0x31 from the first layer, 0x32 from the second. */
    private static void assertReads(String image) throws Exception {
        String read = output("qemu-io", "-f", "qcow2", "-c", "read -P 0x31 0 1M", "-c", "read -P 0x32 1M 1M", image);
        assertTrue(!read.contains("verification failed") && read.contains("read 1048576/1048576"), read);
    }

    private static long sizeOf(Path file) throws Exception {
        return Files.size(file);
    }

    private static long deviceSize(String device) throws Exception {
        return Long.parseLong(output("blockdev", "--getsize64", device).trim());
    }

}
