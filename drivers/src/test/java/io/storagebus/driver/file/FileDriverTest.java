package io.storagebus.driver.file;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverConformance;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.PropertyValidator;
import io.storagebus.driver.PropertyViolation;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import org.junit.jupiter.api.Test;

/** The file driver: the conformance suite, then what is particular to files, against the real {@code qemu-img}. */
class FileDriverTest extends DriverConformance {
    private static final long GIB = 1L << 30;

    @Override
    protected boolean recordsLeaseEpochs() {
        return true;
    }

    @Override
    protected StorageDriver rawDriver() {
        return new FileDriver();
    }

    @Override
    protected DomainContext domain() throws Exception {
        Path dir = Files.createDirectories(scratch.resolve("domain-" + id()));
        return new DomainContext("dom-" + dir.getFileName(), Map.of(FileDriver.PATH, dir.toString()));
    }

    private static Path file(VolumeInfo info) {
        return Path.of(URI.create(info.location()));
    }

    /**
     * A meta file is input from a stranger: one that names a file outside the domain (a path, or a
     * link with a volume's name) is not a volume, and nothing done to it reaches that file.
     */
    @Test
    void metadataThatLeadsOutsideTheDomainIsRefusedAndNothingOutsideIsTouched() throws Exception {
        DomainContext domain = domain();
        StorageDriver driver = driver();
        Path dir = Path.of(domain.properties().get(FileDriver.PATH));
        Path victim = Files.writeString(scratch.resolve("victim-" + id()), "precious");
        driver.create(domain, new VolumeSpec("good", "good", MIB, VolumeFormat.RAW, Allocation.THIN));
        Path volumes = dir.resolve("volumes");
        String meta = Files.readString(volumes.resolve("good.meta.json"));
        Files.writeString(volumes.resolve("escape.meta.json"), meta.replace("\"good\"", "\"escape\"")
                .replace("\"good.raw\"", "\"../../" + victim.getFileName() + "\""));
        Files.writeString(volumes.resolve("absolute.meta.json"), meta.replace("\"good\"", "\"absolute\"")
                .replace("\"good.raw\"", "\"" + victim + "\""));
        Files.writeString(volumes.resolve("linked.meta.json"), meta.replace("\"good\"", "\"linked\"").replace("good.raw", "linked.raw"));
        Files.createSymbolicLink(volumes.resolve("linked.raw"), victim);
        Files.writeString(volumes.resolve("other.meta.json"), meta.replace("good.raw", "other.raw"));

        assertEquals(List.of("good"), driver.list(domain).stream().map(v -> v.uri().volumeId()).toList(),
                "only the volume whose metadata holds up is listed (and so imported)");
        for (String id : List.of("escape", "absolute", "linked", "other")) {
            io.storagebus.driver.VolumeUri uri = new io.storagebus.driver.VolumeUri(domain.id(), id);
            DriverException refused = org.junit.jupiter.api.Assertions.assertThrows(DriverException.class, () -> driver.destroy(domain, uri, true));
            assertTrue(refused.getMessage().contains("refused"), refused.getMessage());
            org.junit.jupiter.api.Assertions.assertThrows(DriverException.class, () -> driver.delink(domain, uri));
        }
        assertEquals("precious", Files.readString(victim), "neither deleted nor wiped");
    }

    @Test
    void thinQcow2IsAcceptedByQemuImgAndAllocatesLittle() throws Exception {
        DomainContext domain = domain();
        VolumeInfo info = driver().create(domain, new VolumeSpec("vol-1", "v1", GIB, VolumeFormat.QCOW2, Allocation.THIN));
        String json = output("qemu-img", "info", "--output=json", file(info).toString());
        assertTrue(json.contains("\"format\": \"qcow2\"") && json.contains("\"virtual-size\": " + GIB), json);
        run("qemu-img", "check", file(info).toString());
        assertTrue(info.actualSize() < 10 * MIB, "thin qcow2 must not allocate its size: " + info);
    }

    @Test
    void thinRawIsSparseAndPreallocatedRawIsNot() throws Exception {
        DomainContext domain = domain();
        VolumeInfo sparse = driver().create(domain, new VolumeSpec("vol-2", "v2", GIB, VolumeFormat.RAW, Allocation.THIN));
        assertEquals(GIB, sparse.allocatedSize());
        assertTrue(sparse.actualSize() < MIB, "sparse raw: " + sparse);
        VolumeInfo full = driver().create(domain, new VolumeSpec("vol-3", "v3", 8 * MIB, VolumeFormat.RAW, Allocation.PREALLOCATED));
        assertTrue(full.actualSize() >= 8 * MIB, "preallocated raw: " + full);
    }

    @Test
    void cloneIsAQcow2OverlayWithTheSourceContent() throws Exception {
        DomainContext domain = domain();
        StorageDriver driver = driver();
        VolumeInfo source = driver.create(domain, new VolumeSpec("base", "base", 4 * MIB, VolumeFormat.RAW, Allocation.THIN));
        byte[] data = pattern((int) (4 * MIB), 9);
        driver.write(domain, source.uri(), new ByteArrayInputStream(data), data.length);
        VolumeInfo clone = driver.clone(domain, source.uri(), new VolumeSpec("child", "child", 4 * MIB, VolumeFormat.QCOW2, Allocation.THIN));
        String info = output("qemu-img", "info", "--output=json", file(clone).toString());
        assertTrue(info.contains("\"backing-filename\": \"base.raw\""), info);
        run("qemu-img", "compare", file(source).toString(), file(clone).toString());
        assertTrue(clone.actualSize() < MIB, "an overlay shares its source's data: " + clone);
    }

    @Test
    void unfinishedCreateIsReplaced() throws Exception {
        DomainContext domain = domain();
        Path volumes = Files.createDirectories(Path.of(domain.property(FileDriver.PATH)).resolve("volumes"));
        Files.writeString(volumes.resolve("vol-6.qcow2"), "half written by a crashed SPM");
        VolumeInfo info = driver().create(domain, new VolumeSpec("vol-6", "v6", GIB, VolumeFormat.QCOW2, Allocation.THIN));
        run("qemu-img", "check", file(info).toString());
    }

    @Test
    void missingDomainDirectoryIsATypedError() {
        DomainContext gone = new DomainContext("dom-x", Map.of(FileDriver.PATH, scratch.resolve("gone").toString()));
        assertCode(DriverException.Code.DOMAIN_UNAVAILABLE,
                () -> driver().create(gone, new VolumeSpec("vol-7", "v7", GIB, VolumeFormat.QCOW2, Allocation.THIN)));
    }

    @Test
    void qemuImgFailureLeavesNothingBehind() throws Exception {
        DomainContext domain = domain();
        // qcow2 cannot address this size: qemu-img refuses and the driver must clean up.
        assertCode(DriverException.Code.IO_ERROR,
                () -> driver().create(domain, new VolumeSpec("vol-8", "v8", Long.MAX_VALUE - 511, VolumeFormat.QCOW2, Allocation.THIN)));
        try (Stream<Path> files = Files.list(Path.of(domain.property(FileDriver.PATH)).resolve("volumes"))) {
            assertEquals(List.of(), files.toList());
        }
    }

    @Test
    void preallocationLargerThanTheFilesystemIsNoSpaceAndLeavesNothing() throws Exception {
        DomainContext domain = domain();
        long tooBig = Files.getFileStore(scratch).getUsableSpace() + GIB;
        assertCode(DriverException.Code.NO_SPACE,
                () -> driver().create(domain, new VolumeSpec("huge", "huge", tooBig, VolumeFormat.RAW, Allocation.PREALLOCATED)));
        assertTrue(driver().list(domain).isEmpty());
    }

    @Test
    void bagValidationNamesEachBadProperty() throws Exception {
        assertViolation(Map.of(), "path", "REQUIRED");
        assertViolation(Map.of("path", "relative/dir"), "path", "NOT_ABSOLUTE");
        assertViolation(Map.of("path", "/srv/../etc"), "path", "NOT_NORMALIZED");
        assertViolation(Map.of("path", scratch.resolve("missing").toString()), "path", "NOT_FOUND");
        Path plain = Files.writeString(scratch.resolve("plain-file"), "x");
        assertViolation(Map.of("path", plain.toString()), "path", "NOT_A_DIRECTORY");
        assertViolation(Map.of("path", scratch.toString(), "colour", "blue"), "colour", "UNKNOWN_PROPERTY");
        assertTrue(PropertyValidator.validate(driver(), Map.of("path", scratch.toString())).valid());
    }

    private void assertViolation(Map<String, String> bag, String property, String code) {
        List<PropertyViolation> violations = PropertyValidator.validate(driver(), bag).violations();
        assertFalse(violations.isEmpty(), "bag " + bag + " should be refused");
        assertEquals(property, violations.get(0).property());
        assertEquals(code, violations.get(0).code(), violations.toString());
    }


    @Test
    void writtenZerosStayHoles() throws Exception {
        DomainContext domain = domain();
        StorageDriver driver = driver();
        VolumeInfo volume = driver.create(domain, new VolumeSpec(id(), "sparse", 64 * MIB, VolumeFormat.RAW, Allocation.THIN));
        byte[] data = new byte[(int) (64 * MIB)];
        byte[] middle = pattern((int) MIB, 13);
        System.arraycopy(middle, 0, data, (int) (20 * MIB), middle.length);
        driver.write(domain, volume.uri(), new ByteArrayInputStream(data), data.length);
        VolumeInfo written = driver.info(domain, volume.uri());
        assertEquals(64 * MIB, written.allocatedSize());
        assertTrue(written.actualSize() <= 2 * MIB, "only the data takes space: " + written);
        assertArrayEquals(data, readAll(driver, domain, volume.uri(), data.length));
    }

    @Test
    void epochLogNeverGoesBackwardsUnderRacingTerms() throws Exception {
        DomainContext domain = domain();
        StorageDriver driver = driver();
        // Eight "SPM terms" race; each keeps creating until it is fenced by a newer one.
        var threads = new java.util.ArrayList<Thread>();
        var fencedTerms = new java.util.concurrent.ConcurrentLinkedQueue<Long>();
        for (long epoch = 1; epoch <= 8; epoch++) {
            DomainContext term = domain.withEpoch(epoch);
            long e = epoch;
            Thread thread = new Thread(() -> {
                for (int i = 0; i < 10; i++) {
                    try {
                        driver.create(term, new VolumeSpec("e" + e + "-" + i, "x", MIB, VolumeFormat.RAW, Allocation.THIN));
                    } catch (io.storagebus.driver.FencedException ex) {
                        fencedTerms.add(e);
                        return;
                    } catch (DriverException ex) {
                        throw new AssertionError(ex);
                    }
                }
            });
            thread.start();
            threads.add(thread);
        }
        for (Thread t : threads) {
            t.join();
        }
        var log = io.storagebus.driver.support.DirectoryFence.log(Path.of(domain.property(FileDriver.PATH)));
        for (int i = 1; i < log.size(); i++) {
            assertTrue(log.get(i).epoch() >= log.get(i - 1).epoch(), "epoch went back at entry " + i + ": " + log);
        }
        assertEquals(log.size(), driver.list(domain).size(), "every logged create is a volume, every volume is logged");
        assertFalse(fencedTerms.contains(8L), "the newest term is never fenced");
    }
}
