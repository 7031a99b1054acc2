package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.assertError;
import static io.storagebus.system.VolumeSteps.created;
import static io.storagebus.system.VolumeSteps.dataOf;
import static io.storagebus.system.VolumeSteps.run;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.storagebus.schema.DomainDetached;
import io.storagebus.testkit.S3MockServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A domain leaves StorageBus whole and comes back whole, against a real file directory and a real
 * S3-compatible server: detached in maintenance (its storage untouched), then attached again with
 * importVolumes, a volume's snapshot chain, a clone's parent and the object domain's backup
 * catalogue (read back from its manifests) are all there, and a backup restores from it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DomainDetachIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);

    private Cluster cluster;
    private S3MockServer s3;
    private Http http;
    private VolumeSteps steps;
    private Path files;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        s3 = S3MockServer.start(dir.resolve("s3"));
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        steps = new VolumeSteps(http, cluster.kafka.bootstrapServers(), WAIT);
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        files = Files.createDirectories(dir.resolve("files"));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster, s3);
    }

    @Test
    void aDetachedDomainComesBackWithItsChainsParentsAndBackups() throws Exception {
        String fileDomain = fileDomain("files", false);
        String backupDomain = objectDomain("backups", false);
        String base = volume(fileDomain, "base");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xa1 0 1M", top(base).toString());
        steps.snapshot(base, "s1");
        String snapshotId = http.get("/api/v1/volumes/" + base).json().getJsonArray("snapshots").getJsonObject(0).getString("id");
        JsonObject clone = accepted(http.post("/api/v1/volumes/" + base + "/clone", new JsonObject().put("name", "clone1")));
        steps.awaitTask(clone.getString("taskId"), "SUCCEEDED");
        JsonObject backup = accepted(http.post("/api/v1/volumes/" + base + "/backups", new JsonObject().put("targetDomainId", backupDomain)));
        steps.awaitTask(backup.getString("taskId"), "SUCCEEDED");
        String backupId = backup.getString("backupId");
        String trashed = volume(fileDomain, "trashed");
        steps.awaitTask(accepted(http.delete("/api/v1/volumes/" + trashed)).getString("taskId"), "SUCCEEDED");
        JsonObject before = http.get("/api/v1/backups/" + backupId).json();

        assertError(http.delete("/api/v1/domains/" + fileDomain), 409, "DOMAIN_NOT_IN_MAINTENANCE", null);
        maintenance(fileDomain);
        JsonObject detached = http.delete("/api/v1/domains/" + fileDomain).json();
        assertEquals(3, detached.getInteger("removedVolumes"), "two volumes and one in the trash: " + detached.encode());
        assertEquals(404, http.get("/api/v1/domains/" + fileDomain).status());
        assertEquals(404, http.get("/api/v1/volumes/" + base).status());
        assertTrue(Files.exists(files.resolve("volumes")) && Files.list(files.resolve("volumes")).findAny().isPresent(), "the storage is untouched");
        maintenance(backupDomain);
        JsonObject detachedBackups = http.delete("/api/v1/domains/" + backupDomain).json();
        assertEquals(1, detachedBackups.getInteger("removedBackups"), detachedBackups.encode());
        assertEquals(404, http.get("/api/v1/backups/" + backupId).status());
        assertEquals(2, steps.events(DomainDetached.class).size());
        assertEquals(404, http.delete("/api/v1/domains/" + fileDomain).status());

        String files2 = fileDomain("files-again", true);
        JsonObject back = http.get("/api/v1/volumes/" + base).json();
        assertEquals("READY", back.getString("status"), back.encode());
        assertEquals(files2, back.getString("domainId"));
        JsonArray snapshots = back.getJsonArray("snapshots");
        assertEquals(snapshotId, snapshots.getJsonObject(0).getString("id"), "the snapshot chain came back: " + back.encode());
        JsonObject cloneBack = http.get("/api/v1/volumes/" + clone.getString("volumeId")).json();
        assertEquals(base, cloneBack.getString("parentVolumeId"), "the clone's parent came back: " + cloneBack.encode());
        assertEquals(java.util.List.of(trashed), http.getAll("/api/v1/trash").stream().map(o -> ((JsonObject) o).getString("id")).toList(),
                "the trash came back");
        steps.awaitTask(accepted(http.post("/api/v1/trash/" + trashed + "/restore", new JsonObject())).getString("taskId"), "SUCCEEDED");
        assertEquals("READY", http.get("/api/v1/volumes/" + trashed).json().getString("status"));

        String backups2 = objectDomain("backups-again", true);
        JsonObject catalogued = http.get("/api/v1/backups/" + backupId).json();
        assertEquals("COMPLETE", catalogued.getString("status"), catalogued.encode());
        assertEquals(backups2, catalogued.getString("targetDomainId"));
        assertEquals(before.getString("sha256"), catalogued.getString("sha256"));
        assertEquals(base, catalogued.getString("volumeId"));
        assertEquals(before.getJsonArray("chain"), catalogued.getJsonArray("chain"));
        JsonObject restore = accepted(http.post("/api/v1/backups/" + backupId + "/restore", new JsonObject().put("targetDomainId", files2)
                .put("name", "restored")));
        steps.awaitTask(restore.getString("taskId"), "SUCCEEDED");
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0xa1 0 1M", top(restore.getString("volumeId")).toString());
    }

    /** A domain's properties change (an object store's keys rotated), checked as at creation; other storage is refused. */
    @Test
    void aDomainsPropertiesChangeButNotItsStorage() throws Exception {
        String objects = objectDomain("rotated", false, "rotated");
        JsonObject rotated = http.patch("/api/v1/domains/" + objects, new JsonObject().put("properties", new JsonObject()
                .put("access_key", "storagebus-2027").put("secret_key", "a-new-secret-0123456789"))).json();
        assertEquals("storagebus-2027", rotated.getJsonObject("properties").getString("access_key"), rotated.encode());
        assertEquals("******", rotated.getJsonObject("properties").getString("secret_key"), "a secret stays masked: " + rotated.encode());
        JsonObject shown = http.get("/api/v1/domains/" + objects).json();
        assertEquals("storagebus-2027", shown.getJsonObject("properties").getString("access_key"));
        // The mask sent back, as a client that read the domain would: the secret stays.
        assertEquals(200, http.patch("/api/v1/domains/" + objects, new JsonObject().put("properties", shown.getJsonObject("properties"))).status());
        Path sourceFiles = Files.createDirectories(files.getParent().resolve("sources"));
        String source = volume(fileDomain("sources", false, sourceFiles), "source");
        steps.snapshot(source, "to-back-up");
        JsonObject backup = accepted(http.post("/api/v1/volumes/" + source + "/backups", new JsonObject().put("targetDomainId", objects)));
        steps.awaitTask(backup.getString("taskId"), "SUCCEEDED");

        assertError(http.patch("/api/v1/domains/" + objects, new JsonObject().put("properties", new JsonObject().put("part_size", "banana"))),
                400, "INVALID_PROPERTIES", "properties.part_size");
        assertError(http.patch("/api/v1/domains/" + objects, new JsonObject().put("properties", new JsonObject())), 400, "REQUIRED", "properties");
        Path elsewhere = Files.createDirectories(files.getParent().resolve("elsewhere"));
        String sources = http.get("/api/v1/volumes/" + source).json().getString("domainId");
        assertError(http.patch("/api/v1/domains/" + sources, new JsonObject().put("properties", new JsonObject().put("path", elsewhere.toString()))),
                409, "STORAGE_CHANGED", "properties");
        assertEquals(sourceFiles.toString(), http.get("/api/v1/domains/" + sources).json().getJsonObject("properties").getString("path"),
                "a refused change changes nothing");
        assertEquals(404, http.patch("/api/v1/domains/" + java.util.UUID.randomUUID(), new JsonObject().put("properties",
                new JsonObject().put("path", "/x"))).status());
    }

    private void maintenance(String domainId) {
        accepted(http.post("/api/v1/domains/" + domainId + "/maintenance", new JsonObject().put("reason", "detach it")));
        await().atMost(WAIT).until(() -> http.get("/api/v1/domains/" + domainId).json().getString("status"), "MAINTENANCE"::equals);
    }

    private String fileDomain(String name, boolean importVolumes) {
        return fileDomain(name, importVolumes, files);
    }

    private String fileDomain(String name, boolean importVolumes, Path path) {
        return created(http.post("/api/v1/domains", new JsonObject().put("name", name).put("driver", "file").put("importVolumes", importVolumes)
                .put("properties", new JsonObject().put("path", path.toString()))));
    }

    private String objectDomain(String name, boolean importVolumes) {
        return objectDomain(name, importVolumes, "storagebus");
    }

    /** A domain under {@code prefix} of the test's bucket. */
    private String objectDomain(String name, boolean importVolumes, String prefix) {
        JsonObject bag = new JsonObject().put("prefix", prefix);
        s3.domainProperties().forEach(bag::put);
        return created(http.post("/api/v1/domains", new JsonObject().put("name", name).put("driver", "object").put("importVolumes", importVolumes)
                .put("properties", bag)));
    }

    private String volume(String domainId, String name) {
        JsonObject answer = accepted(http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", name)
                .put("virtualSize", 16 * MIB).put("format", "qcow2")));
        steps.awaitTask(answer.getString("taskId"), "SUCCEEDED");
        return answer.getString("volumeId");
    }

    private Path top(String volumeId) {
        return dataOf(http.get("/api/v1/volumes/" + volumeId).json());
    }
}
