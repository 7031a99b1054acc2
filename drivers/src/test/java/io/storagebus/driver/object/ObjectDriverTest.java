package io.storagebus.driver.object;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.CheckedDriver;
import io.storagebus.driver.CopyListener;
import io.storagebus.driver.CopyResult;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverConformance;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.PropertyValidator;
import io.storagebus.driver.PropertyViolation;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.file.FileDriver;
import io.storagebus.testkit.S3MockServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The object driver against a real S3-compatible server (S3Mock in its own process). */
class ObjectDriverTest extends DriverConformance {
    private static S3MockServer server;
    private static final ObjectDriver DRIVER = new ObjectDriver();

    @BeforeAll
    static void startServer(@TempDir Path dir) throws Exception {
        server = S3MockServer.start(dir.resolve("s3"));
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    /**
     * S3 makes a conditional PUT atomic; S3Mock checks the condition and writes in two steps, so
     * parallel PUTs with If-None-Match: * can all succeed there (seen: two or three of six). The
     * fence's conditional PUT is tested one writer at a time by the other conformance tests.
     */
    @Override
    protected String concurrentFenceUntestable() {
        return "S3Mock's conditional PUT is not atomic under concurrent requests (parallel If-None-Match: * PUTs can all succeed), unlike S3's";
    }

    @Override
    protected StorageDriver rawDriver() {
        return DRIVER;
    }

    /** Each domain on its own key prefix, as the manager requires. */
    @Override
    protected DomainContext domain() {
        Map<String, String> bag = new HashMap<>(server.domainProperties());
        String id = id();
        bag.put(ObjectDriver.PREFIX, "t/" + id);
        return new DomainContext("dom-" + id, PropertyValidator.validate(DRIVER, bag).properties());
    }

    @Test
    void multipartUploadStreamsManyPartsAndReadsBackIdentical() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 64 * MIB));
        // 23 MiB + a bit in 5 MiB parts: five parts, the last one short.
        byte[] data = pattern((int) (23 * MIB + 4321), 7);
        driver.write(domain, volume.uri(), new ByteArrayInputStream(data), data.length);
        assertEquals(data.length, driver.info(domain, volume.uri()).allocatedSize());
        assertArrayEquals(data, readAll(driver, domain, volume.uri(), data.length));
    }

    @Test
    void aBackupIsListedOnlyOnceItsManifestIsWrittenAndGoesManifestFirst() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        String backupId = id();
        driver.create(domain, new VolumeSpec(backupId, "backup", MIB, VolumeFormat.RAW, Allocation.THIN));
        assertFalse(driver.manifests(domain).contains(backupId), "data without a manifest is an unfinished backup");
        assertTrue(driver.manifest(domain, backupId).isEmpty());
        driver.putManifest(domain, backupId, "{\"backupId\":1}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertTrue(driver.manifests(domain).contains(backupId));
        assertEquals("{\"backupId\":1}", new String(driver.manifest(domain, backupId).orElseThrow(), java.nio.charset.StandardCharsets.UTF_8));
        assertTrue(driver.list(domain).stream().anyMatch(v -> v.volumeId().equals(backupId)), "manifests are not volumes, data is");
        driver.deleteBackup(domain, backupId);
        assertFalse(driver.manifests(domain).contains(backupId));
        assertTrue(driver.list(domain).stream().noneMatch(v -> v.volumeId().equals(backupId)));
    }

    /** Metadata in a bucket is input from a stranger: what does not describe the volume it is named for is not a volume. */
    @Test
    void metadataThatDoesNotDescribeItsVolumeIsLeftOut() throws Exception {
        DomainContext domain = domain();
        DRIVER.create(domain, new VolumeSpec("good", "good", MIB, VolumeFormat.RAW, Allocation.THIN));
        String prefix = domain.properties().get(ObjectDriver.PREFIX) + "/";
        Map<String, String> strangers = Map.of(
                "other", "{\"volumeId\":\"good\",\"name\":\"x\",\"virtualSize\":1048576,\"format\":\"RAW\",\"allocation\":\"THIN\",\"dataLength\":0}",
                "dots", "{\"volumeId\":\"dots\",\"name\":\"../..\",\"virtualSize\":1048576,\"format\":\"RAW\",\"allocation\":\"THIN\",\"dataLength\":0}",
                "negative", "{\"volumeId\":\"negative\",\"name\":\"n\",\"virtualSize\":-1,\"format\":\"RAW\",\"allocation\":\"THIN\",\"dataLength\":0}",
                "garbage", "not json");
        for (Map.Entry<String, String> e : strangers.entrySet()) {
            DRIVER.client(domain).putObject(b -> b.bucket(domain.properties().get(ObjectDriver.BUCKET)).key(prefix + e.getKey() + ".meta.json"),
                    software.amazon.awssdk.core.sync.RequestBody.fromString(e.getValue()));
        }
        assertEquals(List.of("good"), DRIVER.list(domain).stream().map(VolumeInfo::volumeId).toList());
        DriverException refused = org.junit.jupiter.api.Assertions.assertThrows(DriverException.class,
                () -> DRIVER.info(domain, new io.storagebus.driver.VolumeUri(domain.id(), "dots")));
        assertTrue(refused.getMessage().contains("refused"), refused.getMessage());
    }

    @Test
    void neverWrittenRawVolumeReadsAsZeros() throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, writableSpec(id(), 3 * MIB));
        assertArrayEquals(new byte[(int) (3 * MIB)], readAll(driver, domain, volume.uri(), (int) (3 * MIB)));
    }

    @Test
    void qcow2VolumeHoldsAnImageQemuImgAccepts(@TempDir Path dir) throws Exception {
        StorageDriver driver = driver();
        DomainContext domain = domain();
        VolumeInfo volume = driver.create(domain, new VolumeSpec(id(), "q", 1L << 30, VolumeFormat.QCOW2, Allocation.THIN));
        Path local = dir.resolve("image.qcow2");
        try (var in = driver.read(domain, volume.uri())) {
            Files.copy(in, local);
        }
        run("qemu-img", "check", local.toString());
    }

    @Test
    void backupRoundTripFileToObjectAndBackIsBitIdentical(@TempDir Path dir) throws Exception {
        StorageDriver file = new CheckedDriver(new FileDriver());
        DomainContext files = new DomainContext("files", Map.of(FileDriver.PATH, Files.createDirectories(dir.resolve("files")).toString()));
        VolumeInfo source = file.create(files, new VolumeSpec("src", "src", 12 * MIB, VolumeFormat.RAW, Allocation.THIN));
        byte[] data = pattern((int) (12 * MIB), 11);
        file.write(files, source.uri(), new ByteArrayInputStream(data), data.length);

        DomainContext objects = domain();
        VolumeSpec backupSpec = new VolumeSpec("backup", "backup", 12 * MIB, VolumeFormat.RAW, Allocation.THIN);
        CopyResult up = file.copyTo(files, source.uri(), driver(), objects, backupSpec, CopyListener.NONE);
        VolumeSpec restoreSpec = new VolumeSpec("restored", "restored", 12 * MIB, VolumeFormat.RAW, Allocation.THIN);
        CopyResult down = driver().copyTo(objects, up.target().uri(), file, files, restoreSpec, CopyListener.NONE);

        assertEquals(up.sha256(), down.sha256());
        assertArrayEquals(data, readAll(file, files, down.target().uri(), data.length));
    }

    @Test
    void bagIsCheckedAgainstTheRealServer() {
        Map<String, String> noBucket = new HashMap<>(server.domainProperties());
        noBucket.put(ObjectDriver.BUCKET, "no-such-bucket");
        assertViolation(noBucket, ObjectDriver.BUCKET, "NOT_FOUND");

        Map<String, String> unreachable = new HashMap<>(server.domainProperties());
        unreachable.put(ObjectDriver.ENDPOINT, "http://127.0.0.1:9");
        assertViolation(unreachable, ObjectDriver.ENDPOINT, "UNREACHABLE");

        Map<String, String> ftp = new HashMap<>(server.domainProperties());
        ftp.put(ObjectDriver.ENDPOINT, "ftp://127.0.0.1:21");
        assertViolation(ftp, ObjectDriver.ENDPOINT, "INVALID_URI");

        Map<String, String> tinyParts = new HashMap<>(server.domainProperties());
        tinyParts.put(ObjectDriver.PART_SIZE, "1M");
        assertViolation(tinyParts, ObjectDriver.PART_SIZE, "OUT_OF_RANGE");
    }

    @Test
    void theSecretKeyIsNeverQuotedInAMessage() {
        Map<String, String> bag = new HashMap<>(server.domainProperties());
        bag.put(ObjectDriver.SECRET_KEY, "x");
        bag.put(ObjectDriver.BUCKET, "BAD_BUCKET");
        List<PropertyViolation> violations = PropertyValidator.validate(DRIVER, bag).violations();
        assertFalse(violations.isEmpty());
        String secret = server.domainProperties().get(ObjectDriver.SECRET_KEY);
        violations.forEach(v -> assertFalse(v.message().contains(secret), v.message()));
        assertFalse(domain().toString().contains(secret), "DomainContext.toString must not show the bag");
    }

    @Test
    void aStoppedServerIsDomainUnavailable(@TempDir Path dir) throws Exception {
        DomainContext domain;
        try (S3MockServer other = S3MockServer.start(dir.resolve("s3-other"))) {
            domain = new DomainContext("dom-" + id(), PropertyValidator.validate(DRIVER, other.domainProperties()).properties());
            driver().create(domain, writableSpec(id(), MIB));
        }
        DomainContext gone = domain;
        assertCode(DriverException.Code.DOMAIN_UNAVAILABLE, () -> driver().list(gone));
    }

    private static void assertViolation(Map<String, String> bag, String property, String code) {
        List<PropertyViolation> violations = PropertyValidator.validate(DRIVER, bag).violations();
        assertTrue(violations.stream().anyMatch(v -> v.property().equals(property) && v.code().equals(code)),
                property + " " + code + " expected in " + violations);
    }
}
