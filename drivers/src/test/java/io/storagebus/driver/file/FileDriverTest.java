package io.storagebus.driver.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.PropertyValidator;
import io.storagebus.driver.PropertyViolation;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file driver against a real directory and the real {@code qemu-img}. */
class FileDriverTest {
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    private final FileDriver driver = new FileDriver();

    private DomainContext domain() {
        return new DomainContext("dom-1", Map.of(FileDriver.PATH, dir.toString()));
    }

    @Test
    void createsThinQcow2ThatQemuImgAccepts() throws Exception {
        VolumeInfo info = driver.create(domain(), new VolumeSpec("vol-1", "v1", GIB, VolumeFormat.QCOW2, Allocation.THIN));

        Path file = Path.of(URI.create(info.uri()));
        assertEquals(dir.resolve("volumes/vol-1.qcow2"), file);
        String json = run("qemu-img", "info", "--output=json", file.toString());
        assertTrue(json.contains("\"format\": \"qcow2\""), json);
        assertTrue(json.contains("\"virtual-size\": " + GIB), json);
        run("qemu-img", "check", file.toString());
        assertTrue(info.allocatedSize() < 10 * 1024 * 1024, "thin qcow2 must not allocate its size: " + info.allocatedSize());
        assertTrue(Files.exists(dir.resolve("volumes/vol-1.meta.json")));
    }

    @Test
    void createsSparseRaw() throws Exception {
        VolumeInfo info = driver.create(domain(), new VolumeSpec("vol-2", "v2", GIB, VolumeFormat.RAW, Allocation.THIN));
        Path file = Path.of(URI.create(info.uri()));
        assertEquals(GIB, Files.size(file));
        assertTrue(info.allocatedSize() < 1024 * 1024, "sparse raw allocated " + info.allocatedSize());
    }

    @Test
    void createsPreallocatedRaw() throws Exception {
        long size = 8L << 20;
        VolumeInfo info = driver.create(domain(), new VolumeSpec("vol-3", "v3", size, VolumeFormat.RAW, Allocation.PREALLOCATED));
        assertTrue(info.allocatedSize() >= size, "preallocated raw allocated only " + info.allocatedSize());
    }

    @Test
    void createIsIdempotentByVolumeId() throws Exception {
        VolumeSpec spec = new VolumeSpec("vol-4", "v4", GIB, VolumeFormat.QCOW2, Allocation.THIN);
        VolumeInfo first = driver.create(domain(), spec);
        VolumeInfo again = driver.create(domain(), spec);
        assertEquals(first.uri(), again.uri());
        try (Stream<Path> files = Files.list(dir.resolve("volumes"))) {
            assertEquals(List.of("vol-4.meta.json", "vol-4.qcow2"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void sameIdWithOtherSpecIsAConflict() throws Exception {
        driver.create(domain(), new VolumeSpec("vol-5", "v5", GIB, VolumeFormat.QCOW2, Allocation.THIN));
        var e = assertThrows(DriverException.class,
                () -> driver.create(domain(), new VolumeSpec("vol-5", "v5", 2 * GIB, VolumeFormat.QCOW2, Allocation.THIN)));
        assertEquals(DriverException.Code.CONFLICT, e.code());
    }

    @Test
    void unfinishedCreateIsReplaced() throws Exception {
        Files.createDirectories(dir.resolve("volumes"));
        Files.writeString(dir.resolve("volumes/vol-6.qcow2"), "half written by a crashed SPM");
        VolumeInfo info = driver.create(domain(), new VolumeSpec("vol-6", "v6", GIB, VolumeFormat.QCOW2, Allocation.THIN));
        run("qemu-img", "check", Path.of(URI.create(info.uri())).toString());
    }

    @Test
    void missingDomainDirectoryIsATypedError() {
        DomainContext gone = new DomainContext("dom-x", Map.of(FileDriver.PATH, dir.resolve("gone").toString()));
        var e = assertThrows(DriverException.class,
                () -> driver.create(gone, new VolumeSpec("vol-7", "v7", GIB, VolumeFormat.QCOW2, Allocation.THIN)));
        assertEquals(DriverException.Code.DOMAIN_UNAVAILABLE, e.code());
    }

    @Test
    void qemuImgFailureLeavesNothingBehind() throws Exception {
        // qcow2 cannot address this size: qemu-img refuses and the driver must clean up.
        var e = assertThrows(DriverException.class,
                () -> driver.create(domain(), new VolumeSpec("vol-8", "v8", Long.MAX_VALUE - 511, VolumeFormat.QCOW2, Allocation.THIN)));
        assertTrue(e.getMessage().contains("qemu-img failed"), e.getMessage());
        try (Stream<Path> files = Files.list(dir.resolve("volumes"))) {
            assertEquals(List.of(), files.toList());
        }
    }

    @Test
    void bagValidationNamesEachBadProperty() throws Exception {
        assertViolation(Map.of(), "path", "REQUIRED");
        assertViolation(Map.of("path", "relative/dir"), "path", "NOT_ABSOLUTE");
        assertViolation(Map.of("path", dir.resolve("missing").toString()), "path", "NOT_FOUND");
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        assertViolation(Map.of("path", file.toString()), "path", "NOT_A_DIRECTORY");
        assertViolation(Map.of("path", dir.toString(), "colour", "blue"), "colour", "UNKNOWN_PROPERTY");
        assertTrue(PropertyValidator.validate(driver, Map.of("path", dir.toString())).valid());
    }

    private void assertViolation(Map<String, String> bag, String property, String code) {
        List<PropertyViolation> violations = PropertyValidator.validate(driver, bag).violations();
        assertFalse(violations.isEmpty(), "bag " + bag + " should be refused");
        assertEquals(property, violations.get(0).property());
        assertEquals(code, violations.get(0).code(), violations.toString());
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }
}
