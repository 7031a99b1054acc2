package io.storagebus.driver.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverConformance;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.PropertyValidator;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The lvm driver with real lvm2 on a volume group over a loop-device PV, one VG per domain.
 * Without device-mapper (this machine's kernel) lvm2 runs with {@code --driverloaded n}: every
 * metadata operation is tested for real, and the tests that need an activated LV say they were
 * skipped; {@link LvmDriverInVmIT} runs this class again in a VM whose kernel has device-mapper,
 * where every LV is activated for real.
 */
class LvmDriverTest extends DriverConformance {
    /** Set by {@link LvmDriverInVmIT}: a missing device-mapper there is a failure, not a skip. */
    static final String DEVICE_MAPPER_REQUIRED = "storagebus.test.deviceMapper.required";
    private static final boolean DEVICE_MAPPER = TestVolumeGroup.DEVICE_MAPPER;
    private final List<TestVolumeGroup> created = new ArrayList<>();

    @BeforeAll
    static void needsLvmAndLoopDevices() {
        TestVolumeGroup.assumeLvm();
        assertTrue(DEVICE_MAPPER || !Boolean.getBoolean(DEVICE_MAPPER_REQUIRED), "device-mapper is missing (not in /proc/misc)");
    }

    @Override
    protected StorageDriver rawDriver() {
        return new LvmDriver(DEVICE_MAPPER);
    }

    @Override
    protected String dataPathUnavailable() {
        return DEVICE_MAPPER ? null : "device-mapper is missing (not in /proc/misc), so no LV can be activated on this machine";
    }

    /** A fresh VG on a fresh 512 MiB sparse loop-device PV. */
    @Override
    protected DomainContext domain() throws Exception {
        String vg = "sbt" + id().substring(1, 9);
        created.add(TestVolumeGroup.create(scratch, vg, 512 * MIB));
        return new DomainContext("dom-" + vg, Map.of(LvmDriver.VG, vg));
    }

    @AfterEach
    void removeVolumeGroups() throws Exception {
        for (TestVolumeGroup vg : created) {
            vg.close();
        }
        created.clear();
    }

    @Test
    void tagsDescribeTheVolumeSoTheVgDescribesItself() throws Exception {
        DomainContext domain = domain();
        driver().create(domain, new VolumeSpec("vol-a", "data-disk", 12 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED));
        String tags = lvm("lvs", "--noheadings", "-o", "lv_tags", domain.property(LvmDriver.VG) + "/vol-a").trim();
        for (String tag : List.of("sb_vol", "sb_name=data-disk", "sb_fmt=RAW", "sb_alloc=PREALLOCATED", "sb_vsize=" + 12 * MIB)) {
            assertTrue(tags.contains(tag), tag + " in " + tags);
        }
        if (DEVICE_MAPPER) {
            assertEquals("", lvm("lvs", "--noheadings", "-o", "lv_autoactivation", domain.property(LvmDriver.VG) + "/vol-a").trim(),
                    "never autoactivated: udev's pvscan on every host that sees the PV change would activate it");
        }
        VolumeInfo info = driver().info(domain, new io.storagebus.driver.VolumeUri(domain.id(), "vol-a"));
        assertEquals("data-disk", info.name());
        assertEquals(12 * MIB, info.allocatedSize());
    }

    /** Tags are input from a stranger: an LV whose tags do not describe a volume is not one, and blocks no other. */
    @Test
    void lvsWhoseTagsDoNotDescribeAVolumeAreLeftOut() throws Exception {
        DomainContext domain = domain();
        String vg = domain.property(LvmDriver.VG);
        driver().create(domain, new VolumeSpec("good", "good", 4 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED));
        lvm("lvcreate", "-q", "-Wn", "-Zn", "-L", "4m", "-n", "bad-size", "--addtag", "sb_vol", "--addtag", "sb_name=x",
                "--addtag", "sb_fmt=RAW", "--addtag", "sb_alloc=THIN", "--addtag", "sb_vsize=lots", vg);
        lvm("lvcreate", "-q", "-Wn", "-Zn", "-L", "4m", "-n", "bad-name", "--addtag", "sb_vol", "--addtag", "sb_name=..",
                "--addtag", "sb_fmt=RAW", "--addtag", "sb_alloc=THIN", "--addtag", "sb_vsize=4194304", vg);
        lvm("lvcreate", "-q", "-Wn", "-Zn", "-L", "4m", "-n", "bad+id", "--addtag", "sb_vol", "--addtag", "sb_name=x",
                "--addtag", "sb_fmt=RAW", "--addtag", "sb_alloc=THIN", "--addtag", "sb_vsize=4194304", vg);

        assertEquals(List.of("good"), driver().list(domain).stream().map(v -> v.uri().volumeId()).toList());
        DriverException refused = org.junit.jupiter.api.Assertions.assertThrows(DriverException.class,
                () -> driver().info(domain, new io.storagebus.driver.VolumeUri(domain.id(), "bad-size")));
        assertTrue(refused.getMessage().contains("sb_vsize=lots"), refused.getMessage());
    }

    /** Hosts that see a storage domain's PV change must not activate its LVs by themselves: each SPM term turns that off for the VG. */
    @Test
    void anSpmTermTurnsTheVgsAutoactivationOff() throws Exception {
        DomainContext domain = domain();
        String vg = domain.property(LvmDriver.VG);
        assertEquals("enabled", lvm("vgs", "--noheadings", "-o", "vg_autoactivation", vg).trim(), "lvm2's default");
        driver().create(domain.withEpoch(1), new VolumeSpec(id(), "raw", 4 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED));
        assertEquals("", lvm("vgs", "--noheadings", "-o", "vg_autoactivation", vg).trim());
    }

    @Test
    void extendRunsLvextendAndStopsAtTheFullyAllocatedSize() throws Exception {
        DomainContext domain = domain();
        LvmDriver driver = new LvmDriver(DEVICE_MAPPER);
        VolumeSpec thin = new VolumeSpec("thin-1", "thin", 64 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 8 * MIB);
        // The metadata half of create, which is what the SPM's lvextend works on.
        driver.allocate(domain, thin);
        var uri = thin.uri(domain);
        assertEquals(8 * MIB, driver.info(domain, uri).allocatedSize());

        assertEquals(24 * MIB, driver.extend(domain, uri, 21 * MIB).allocatedSize(), "rounded up to whole 4 MiB extents");
        assertEquals(24 * MIB, lvSize(domain, "thin-1"));
        long capped = driver.extend(domain, uri, 1024 * MIB).allocatedSize();
        assertEquals(68 * MIB, capped, "64 MiB of data plus qcow2 metadata, in extents");
        assertEquals(capped, driver.extend(domain, uri, 10 * MIB).allocatedSize(), "extend never shrinks");
    }

    @Test
    void extendBeyondTheFreeSpaceOfTheVgIsNoSpace() throws Exception {
        DomainContext domain = domain();
        LvmDriver driver = new LvmDriver(DEVICE_MAPPER);
        VolumeSpec thin = new VolumeSpec("thin-2", "thin", 4096 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 8 * MIB);
        driver.allocate(domain, thin);
        long size = driver.totalSpace(domain).orElseThrow();
        assertTrue(size > 500 * MIB && size <= 512 * MIB, "the VG's size is its PV's, less LVM's metadata: " + size);
        assertEquals(size - 8 * MIB, driver.freeSpace(domain).orElseThrow());
        assertCode(DriverException.Code.NO_SPACE, () -> driver.extend(domain, thin.uri(domain), 1024 * MIB));
        assertEquals(8 * MIB, lvSize(domain, "thin-2"), "a refused extend changes nothing");
    }

    @Test
    void fullVolumeGroupIsNoSpaceAndLeavesNothing() throws Exception {
        DomainContext domain = domain();
        assertCode(DriverException.Code.NO_SPACE,
                () -> driver().create(domain, new VolumeSpec("big", "big", 2048 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED)));
        assertTrue(driver().list(domain).isEmpty());
    }

    @Test
    void withoutDeviceMapperDataOperationsAreRefusedCleanly() throws Exception {
        assumeTrue(!DEVICE_MAPPER, "skipped: device-mapper is present, activation works here");
        DomainContext domain = domain();
        StorageDriver driver = driver();
        assertCode(DriverException.Code.DOMAIN_UNAVAILABLE,
                () -> driver.create(domain, new VolumeSpec("q", "q", 64 * MIB, VolumeFormat.QCOW2, Allocation.THIN)));
        assertTrue(driver.list(domain).isEmpty(), "no LV is left behind");
        VolumeInfo raw = driver.create(domain, new VolumeSpec("r", "r", 8 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED));
        assertCode(DriverException.Code.DOMAIN_UNAVAILABLE, () -> driver.activate(domain, raw.uri()));
        assertCode(DriverException.Code.DOMAIN_UNAVAILABLE, () -> driver.refresh(domain, raw.uri()));
        assertCode(DriverException.Code.DOMAIN_UNAVAILABLE, () -> driver.read(domain, raw.uri()));
        assertCode(DriverException.Code.DOMAIN_UNAVAILABLE, () -> driver.destroy(domain, raw.uri(), true));
        driver.destroy(domain, raw.uri(), false);
    }

    /**
     * The shared-VG split of work: the SPM's {@code lvextend} changes the VG's metadata; another
     * host with the LV active keeps its old device-mapper table, so its device (and the guest on
     * it) still ends at the old size until that host's {@code lvchange --refresh}. The SPM here
     * is a metadata-only driver ({@code --driverloaded n}), which writes the VG exactly as a
     * remote SPM does and leaves this kernel's table alone. Prints the round trip.
     */
    @Test
    void anActiveVolumeGrowsOnItsHostOnlyWhenTheHostRefreshesAfterTheSpmsExtend() throws Exception {
        assumeTrue(DEVICE_MAPPER, "skipped: needs device-mapper to activate the LV");
        DomainContext domain = domain();
        LvmDriver host = new LvmDriver(true);
        LvmDriver spm = new LvmDriver(false);
        VolumeInfo thin = host.create(domain, new VolumeSpec(id(), "thin", 256 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 8 * MIB));
        String device = host.activate(domain, thin.uri());
        try {
            long size = 8 * MIB;
            List<String> rounds = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                long started = System.nanoTime();
                long allocated = spm.extend(domain, thin.uri(), size + 16 * MIB).allocatedSize();
                long extended = System.nanoTime();
                assertEquals(size + 16 * MIB, allocated);
                assertEquals(size, deviceSize(device), "before its refresh the host still maps the old extents");
                host.refresh(domain, thin.uri());
                long refreshed = System.nanoTime();
                size = allocated;
                assertEquals(size, deviceSize(device), "after its refresh the host's device is the LV's new size");
                rounds.add(String.format("%.0f + %.0f ms", (extended - started) / 1e6, (refreshed - extended) / 1e6));
            }
            byte[] data = pattern((int) MIB, 9);
            try (var raf = new java.io.RandomAccessFile(device, "rw")) {
                raf.seek(size - MIB);
                raf.write(data);
                raf.getFD().sync();
                byte[] back = new byte[data.length];
                raf.seek(size - MIB);
                raf.readFully(back);
                assertTrue(java.util.Arrays.equals(data, back), "the last MiB of the grown device holds what was written");
            }
            System.out.println("lvm extend round trip (lvextend on the SPM + lvchange --refresh on the host): " + rounds);
        } finally {
            host.deactivate(domain, thin.uri());
        }
    }

    /**
     * What keeps two hosts from writing one VG's metadata at once: only the SPM writes it. A host
     * activates, refreshes, reads and deactivates, and none of that changes the VG's metadata
     * (its sequence number stays), so a host racing the SPM's extends only reads; each of its
     * refreshes sees either the metadata before an extend or after it, never a torn one.
     */
    @Test
    void aHostOnlyReadsTheVgMetadataEvenWhileTheSpmExtends() throws Exception {
        assumeTrue(DEVICE_MAPPER, "skipped: needs device-mapper to activate the LV");
        DomainContext domain = domain();
        LvmDriver host = new LvmDriver(true);
        LvmDriver spm = new LvmDriver(false);
        VolumeInfo thin = host.create(domain, new VolumeSpec(id(), "thin", 512 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 8 * MIB));
        long seqno = vgSeqno(domain);
        String device = host.activate(domain, thin.uri());
        host.refresh(domain, thin.uri());
        host.read(domain, thin.uri()).close();
        host.deactivate(domain, thin.uri());
        assertEquals(seqno, vgSeqno(domain), "activate, refresh, read and deactivate wrote no VG metadata");

        host.activate(domain, thin.uri());
        try {
            var spmExtends = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    for (int i = 1; i <= 3; i++) {
                        spm.extend(domain, thin.uri(), (8 + 8 * i) * MIB);
                    }
                } catch (DriverException e) {
                    throw new IllegalStateException(e);
                }
            });
            List<Long> seen = new ArrayList<>();
            while (!spmExtends.isDone()) {
                host.refresh(domain, thin.uri());
                seen.add(deviceSize(device));
            }
            spmExtends.join();
            host.refresh(domain, thin.uri());
            seen.add(deviceSize(device));
            assertEquals(32 * MIB, seen.get(seen.size() - 1), "the last refresh maps all of the SPM's extents: " + seen);
            assertTrue(seen.stream().allMatch(size -> size % (8 * MIB) == 0), "every refresh saw a whole extend: " + seen);
            assertEquals(seen.stream().sorted().toList(), seen, "the device never shrank: " + seen);
        } finally {
            host.deactivate(domain, thin.uri());
        }
    }

    /**
     * A clone is a thin LV holding a qcow2 layer on its template's LV: the guest's view of it is
     * the template's data, activating it activates the template first, and the template stays
     * active while any clone on this host still reads through to it. The template can be neither
     * rewritten, delinked nor destroyed while a clone stands on it.
     */
    @Test
    void aCloneIsAQcow2LayerOnItsTemplatesLvAndActivatesWithIt() throws Exception {
        assumeTrue(DEVICE_MAPPER, "skipped: needs device-mapper to write the clone's qcow2 header");
        DomainContext domain = domain();
        StorageDriver driver = driver();
        VolumeInfo template = driver.create(domain, new VolumeSpec(id(), "template", 8 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED));
        byte[] data = pattern((int) (3 * MIB), 11);
        driver.write(domain, template.uri(), new java.io.ByteArrayInputStream(data), data.length);
        VolumeSpec spec = new VolumeSpec(id(), "clone-a", 8 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 4 * MIB);
        VolumeInfo a = driver.clone(domain, template.uri(), spec);
        assertEquals(a, driver.clone(domain, template.uri(), spec), "a repeated clone is the same clone");
        VolumeInfo b = driver.clone(domain, template.uri(), new VolumeSpec(id(), "clone-b", 16 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 4 * MIB));
        assertEquals(java.util.Optional.of(template.volumeId()), driver.parentOf(domain, a.uri()));
        assertEquals(VolumeFormat.QCOW2, a.format());
        assertEquals(4 * MIB, a.allocatedSize(), "a clone's LV starts at its initial size");

        String deviceA = driver.activate(domain, a.uri());
        assertTrue(active(domain, template.volumeId()), "activating a clone activates its template");
        assertEquals(template.location(), output("qemu-img", "info", "--output=json", deviceA).replaceAll("(?s).*\"backing-filename\": \"([^\"]+)\".*", "$1"));
        assertEquals(0, new ProcessBuilder("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", deviceA, template.location())
                .inheritIO().start().waitFor(), "the clone shows the template's data");
        driver.activate(domain, b.uri());
        driver.deactivate(domain, a.uri());
        assertTrue(active(domain, template.volumeId()), "clone-b still reads through to the template");
        driver.deactivate(domain, b.uri());
        assertTrue(!active(domain, template.volumeId()), "the last clone's deactivation deactivates the template");

        assertCode(DriverException.Code.CONFLICT, () -> driver.destroy(domain, template.uri(), false));
        assertCode(DriverException.Code.CONFLICT, () -> driver.delink(domain, template.uri()));
        assertCode(DriverException.Code.CONFLICT,
                () -> driver.write(domain, template.uri(), new java.io.ByteArrayInputStream(data), data.length));
        assertCode(DriverException.Code.INVALID_SPEC,
                () -> driver.clone(domain, template.uri(), new VolumeSpec(id(), "raw", 8 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED)));
        driver.delink(domain, a.uri());
        assertCode(DriverException.Code.CONFLICT, () -> driver.destroy(domain, template.uri(), false));
        driver.purge(domain, a.uri());
        driver.destroy(domain, b.uri(), false);
        driver.destroy(domain, template.uri(), false);
        assertTrue(driver.list(domain).isEmpty());
    }

    private static boolean active(DomainContext domain, String lv) throws Exception {
        return lvm("lvs", "--noheadings", "-o", "lv_active", domain.property(LvmDriver.VG) + "/" + lv).trim().equals("active");
    }

    private static long vgSeqno(DomainContext domain) throws Exception {
        return Long.parseLong(lvm("vgs", "--noheadings", "-o", "vg_seqno", domain.property(LvmDriver.VG)).trim());
    }

    private static long deviceSize(String device) throws Exception {
        return Long.parseLong(output("blockdev", "--getsize64", device).trim());
    }

    @Test
    void bagNamesAMissingOrMalformedVolumeGroup() {
        var missing = PropertyValidator.validate(driver(), Map.of(LvmDriver.VG, "no-such-vg-here")).violations();
        assertEquals("NOT_FOUND", missing.get(0).code(), missing.toString());
        var malformed = PropertyValidator.validate(driver(), Map.of(LvmDriver.VG, "-bad/vg")).violations();
        assertEquals("PATTERN_MISMATCH", malformed.get(0).code(), malformed.toString());
    }

    private static long lvSize(DomainContext domain, String lv) throws Exception {
        return Long.parseLong(lvm("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size",
                domain.property(LvmDriver.VG) + "/" + lv).trim());
    }

    private static String lvm(String... args) throws Exception {
        return TestVolumeGroup.lvm(args);
    }
}
