package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.created;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.schema.VolumeCopied;
import io.storagebus.schema.VolumeCopyProgress;
import io.storagebus.testkit.S3MockServer;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backup through the bus: a file volume copied to an object-store domain on a real
 * S3-compatible server and restored into a new file volume, bit-identical, with progress events
 * on the way and the checksum in the completion event.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VolumeCopyIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(60);

    private Cluster cluster;
    private S3MockServer s3;
    private Http http;
    private Path tmp;
    private String fileDomain;
    private String objectDomain;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        s3 = S3MockServer.start(dir.resolve("s3"));
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        Path images = Files.createDirectories(dir.resolve("images"));
        fileDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "files").put("driver", "file")
                .put("properties", new JsonObject().put("path", images.toString()))));
        JsonObject bag = new JsonObject();
        s3.domainProperties().forEach(bag::put);
        objectDomain = created(http.post("/api/v1/domains", new JsonObject().put("name", "backups").put("driver", "object").put("properties", bag)));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster, s3);
    }

    @Test
    void backupToTheObjectStoreAndRestoreIsBitIdentical() throws Exception {
        JsonObject source = awaitReady(accepted(http.post("/api/v1/domains/" + fileDomain + "/volumes",
                new JsonObject().put("name", "disk").put("virtualSize", 96 * MIB).put("format", "raw"))));
        // Write as a guest would: straight into the volume's file, here and there.
        Path sourceFile = Path.of(URI.create(source.getString("uri")));
        byte[] chunk = new byte[(int) MIB];
        new Random(5).nextBytes(chunk);
        try (RandomAccessFile raf = new RandomAccessFile(sourceFile.toFile(), "rw")) {
            for (long offset : List.of(0L, 10 * MIB, 70 * MIB, 95 * MIB)) {
                raf.seek(offset);
                raf.write(chunk);
            }
        }
        String sourceSha = ThinVolumes.sha256(sourceFile);

        JsonObject backupTask = accepted(http.post("/api/v1/volumes/" + source.getString("id") + "/copy",
                new JsonObject().put("targetDomainId", objectDomain).put("name", "disk-backup")));
        JsonObject backup = awaitReady(backupTask);
        assertTrue(backup.getString("uri").startsWith("s3://" + S3MockServer.BUCKET + "/"), backup.encode());
        JsonObject task = http.get("/api/v1/tasks/" + backupTask.getString("taskId")).json();
        assertEquals("SUCCEEDED", task.getString("status"));
        assertEquals(96 * MIB, task.getLong("doneBytes"));
        assertEquals(96 * MIB, task.getLong("totalBytes"));

        VolumeCopied copied = null;
        long progressEvents = 0;
        for (var r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS)) {
            SpecificRecord event = MessageCodec.standard().decode(r.value());
            if (event instanceof VolumeCopied c && c.getTaskId().equals(backupTask.getString("taskId"))) {
                copied = c;
            }
            if (event instanceof VolumeCopyProgress p && p.getTaskId().equals(backupTask.getString("taskId"))) {
                progressEvents++;
                assertEquals(96 * MIB, p.getTotalBytes());
            }
        }
        assertTrue(progressEvents >= 2, "progress at 64 MiB and at the end, saw " + progressEvents);
        assertEquals(sourceSha, copied.getSha256(), "the checksum of the copy is the source's");

        JsonObject restored = awaitReady(accepted(http.post("/api/v1/volumes/" + backup.getString("id") + "/copy",
                new JsonObject().put("targetDomainId", fileDomain).put("name", "disk-restored"))));
        Path restoredFile = Path.of(URI.create(restored.getString("uri")));
        assertEquals(sourceSha, ThinVolumes.sha256(restoredFile));
        assertArrayEquals(Files.readAllBytes(sourceFile), Files.readAllBytes(restoredFile));
    }

    @Test
    void badCopyRequestsAreRefused() {
        String volumeId = awaitReady(accepted(http.post("/api/v1/domains/" + fileDomain + "/volumes",
                new JsonObject().put("name", "small").put("virtualSize", MIB)))).getString("id");
        assertEquals(404, http.post("/api/v1/volumes/nope/copy", new JsonObject().put("targetDomainId", objectDomain).put("name", "x")).status());
        Http.Response missing = http.post("/api/v1/volumes/" + volumeId + "/copy", new JsonObject().put("name", "x"));
        assertEquals(400, missing.status());
        assertEquals("targetDomainId", missing.json().getString("field"));
        Http.Response unknown = http.post("/api/v1/volumes/" + volumeId + "/copy", new JsonObject().put("targetDomainId", "nope").put("name", "x"));
        assertEquals("UNKNOWN_DOMAIN", unknown.json().getString("code"));
        Http.Response taken = http.post("/api/v1/volumes/" + volumeId + "/copy", new JsonObject().put("targetDomainId", fileDomain).put("name", "small"));
        assertEquals(409, taken.status(), taken.body());
    }

    @Test
    void objectDomainPropertiesAreCheckedAgainstTheServerAndTheSecretIsMasked() {
        JsonObject bag = new JsonObject();
        s3.domainProperties().forEach(bag::put);
        bag.put("bucket", "missing-bucket");
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", "nobucket").put("driver", "object").put("properties", bag));
        assertEquals(400, r.status(), r.body());
        assertEquals("properties.bucket", r.json().getString("field"));
        String shown = http.get("/api/v1/domains/" + objectDomain).body();
        assertTrue(shown.contains("\"secret_key\":\"******\""), shown);
        assertTrue(!shown.contains(s3.domainProperties().get("secret_key")), shown);
    }

    private JsonObject awaitReady(JsonObject accepted) {
        String volumeId = accepted.getString("volumeId");
        JsonObject volume = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json(),
                v -> !"CREATING".equals(v.getString("status")));
        assertEquals("READY", volume.getString("status"), volume.encode());
        return volume;
    }

    @Test
    void aSecondDomainOnTheSameStorageIsRefused() {
        JsonObject bag = new JsonObject();
        s3.domainProperties().forEach(bag::put);
        Http.Response sameBucketAndPrefix = http.post("/api/v1/domains",
                new JsonObject().put("name", "backups-again").put("driver", "object").put("properties", bag));
        assertEquals(409, sameBucketAndPrefix.status(), sameBucketAndPrefix.body());
        assertEquals("STORAGE_IN_USE", sameBucketAndPrefix.json().getString("code"));
        Http.Response sameDirectory = http.post("/api/v1/domains", new JsonObject().put("name", "files-again").put("driver", "file")
                .put("properties", new JsonObject().put("path", tmp.resolve("images").toString() + "/")));
        assertEquals("STORAGE_IN_USE", sameDirectory.json().getString("code"), sameDirectory.body());
    }

    @Test
    void storageFromElsewhereIsAttachedWithItsVolumes() throws Exception {
        // Volumes another installation left in a directory and under a bucket prefix.
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        io.storagebus.driver.StorageDriver file = new io.storagebus.driver.CheckedDriver(new io.storagebus.driver.file.FileDriver());
        io.storagebus.driver.DomainContext old = new io.storagebus.driver.DomainContext("old-domain", java.util.Map.of("path", elsewhere.toString()));
        file.create(old, new io.storagebus.driver.VolumeSpec("kept-1", "kept-one", MIB, io.storagebus.driver.VolumeFormat.RAW,
                io.storagebus.driver.Allocation.THIN));
        file.create(old, new io.storagebus.driver.VolumeSpec("kept-2", "kept-two", 2 * MIB, io.storagebus.driver.VolumeFormat.QCOW2,
                io.storagebus.driver.Allocation.THIN));

        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", "attached").put("driver", "file").put("importVolumes", true)
                .put("properties", new JsonObject().put("path", elsewhere.toString())));
        assertEquals(201, r.status(), r.body());
        assertEquals(2, r.json().getLong("importedVolumes"));
        var volumes = http.get("/api/v1/domains/" + r.json().getString("id") + "/volumes").array();
        assertEquals(2, volumes.size());
        for (Object v : volumes) {
            JsonObject volume = (JsonObject) v;
            assertEquals("READY", volume.getString("status"));
            assertTrue(volume.getString("name").startsWith("kept-"), volume.encode());
        }
        // An imported volume is a volume like any other: it can be backed up.
        JsonObject two = volumes.stream().map(JsonObject.class::cast).filter(v -> v.getString("name").equals("kept-two")).findFirst().orElseThrow();
        awaitReady(accepted(http.post("/api/v1/volumes/" + two.getString("id") + "/copy",
                new JsonObject().put("targetDomainId", objectDomain).put("name", "kept-two-backup"))));
    }

    @Test
    void aCopyInterruptedByAnSpmHandOverIsFinishedByTheNextSpm() throws Exception {
        cluster.startWorker("host-2");
        JsonObject source = awaitReady(accepted(http.post("/api/v1/domains/" + fileDomain + "/volumes",
                new JsonObject().put("name", "big").put("virtualSize", 320 * MIB).put("format", "raw"))));
        Path sourceFile = Path.of(URI.create(source.getString("uri")));
        byte[] chunk = new byte[(int) MIB];
        new Random(6).nextBytes(chunk);
        try (RandomAccessFile raf = new RandomAccessFile(sourceFile.toFile(), "rw")) {
            for (long offset = 0; offset < 320 * MIB; offset += 40 * MIB) {
                raf.seek(offset);
                raf.write(chunk);
            }
        }
        String sourceSha = ThinVolumes.sha256(sourceFile);
        var spm = cluster.spm().orElseThrow();
        long oldEpoch = spm.spmTerm().orElseThrow().epoch();

        JsonObject copy = accepted(http.post("/api/v1/volumes/" + source.getString("id") + "/copy",
                new JsonObject().put("targetDomainId", objectDomain).put("name", "big-backup")));
        String taskId = copy.getString("taskId");
        // Hand over once the copy is well under way.
        await().atMost(WAIT).until(() -> http.get("/api/v1/tasks/" + taskId).json().getLong("doneBytes", 0L) > 0);
        spm.close();
        cluster.workers.remove(spm);

        JsonObject backup = awaitReady(copy);
        var next = cluster.spm().orElseThrow();
        assertTrue(next.spmTerm().orElseThrow().epoch() > oldEpoch);
        JsonObject task = http.get("/api/v1/tasks/" + taskId).json();
        assertEquals("SUCCEEDED", task.getString("status"), task.encode());
        long outcomes = 0;
        for (var r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS)) {
            if (MessageCodec.standard().decode(r.value()) instanceof VolumeCopied c && c.getTaskId().equals(taskId)) {
                outcomes++;
                assertEquals(sourceSha, c.getSha256());
                assertTrue(c.getEnvelope().getSpmEpoch() > oldEpoch, "the outcome is the new term's");
            }
        }
        assertEquals(1, outcomes, "exactly one outcome for the task");
        assertTrue(TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.spmJobs(Cluster.POOL)).stream()
                .filter(r -> taskId.equals(r.key())).reduce((a, b) -> b).orElseThrow().value() == null,
                "the finished job leaves the jobs topic");
        assertEquals("READY", backup.getString("status"));
        cluster.startWorker("host-3");
    }
}
