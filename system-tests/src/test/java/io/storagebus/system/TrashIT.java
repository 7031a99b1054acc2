package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.assertError;
import static io.storagebus.system.VolumeSteps.created;
import static io.storagebus.system.VolumeSteps.dataOf;
import static io.storagebus.system.VolumeSteps.run;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import io.storagebus.manager.Manager;
import io.storagebus.schema.VolumeDeleted;
import io.storagebus.schema.VolumeTrashed;
import io.storagebus.schema.VolumeUntrashed;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trash, through the REST API against a real file domain and qemu-img: a deleted volume
 * leaves the listings with its data kept, frees its name, comes back under its id with its data
 * and snapshots, is purged by hand or, past the retention, by the active manager; and what cannot
 * be done is refused with a code.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TrashIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);

    private Cluster cluster;
    private Http http;
    private VolumeSteps steps;
    private Path files;
    private String domain;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        steps = new VolumeSteps(http, cluster.kafka.bootstrapServers(), WAIT);
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        files = Files.createDirectories(dir.resolve("files"));
        domain = created(http.post("/api/v1/domains", new JsonObject().put("name", "files").put("driver", "file")
                .put("properties", new JsonObject().put("path", files.toString()))));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster);
    }

    @Test
    @Order(1)
    void aDeletedVolumeWaitsInTheTrashAndComesBackWithItsDataAndSnapshots() throws Exception {
        String id = volume("keeps");
        Path data = dataOf(http.get("/api/v1/volumes/" + id).json());
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xa1 0 1M", data.toString());
        steps.snapshot(id, "before");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xb2 1M 1M", dataOf(http.get("/api/v1/volumes/" + id).json()).toString());

        JsonObject deleted = accepted(http.delete("/api/v1/volumes/" + id));
        assertTrue(deleted.getBoolean("trash"), deleted.encode());
        steps.awaitTask(deleted.getString("taskId"), "SUCCEEDED");
        JsonObject trashed = http.get("/api/v1/volumes/" + id).json();
        assertEquals("TRASHED", trashed.getString("status"), trashed.encode());
        assertTrue(trashed.containsKey("trashedAt"), trashed.encode());
        assertFalse(names(http.getAll("/api/v1/domains/" + domain + "/volumes")).contains("keeps"), "it left the domain's listing");
        assertEquals(List.of(id), ids(http.getAll("/api/v1/trash?domainId=" + domain)));
        JsonObject trash = http.get("/api/v1/domains/" + domain).json().getJsonObject("trash");
        assertEquals(1, trash.getInteger("volumes"), trash.encode());
        assertEquals(32 * MIB, trash.getLong("virtualSize"), trash.encode());
        assertTrue(delinked().anyMatch(f -> f.startsWith(id)), "the data stays on the storage, delinked");
        assertTrue(steps.events(VolumeTrashed.class).stream().anyMatch(e -> e.getVolumeId().equals(id) && e.getName().equals("keeps")));

        // Its name is free meanwhile; a volume that takes it keeps the trashed one from coming back.
        String other = volume("keeps");
        assertError(http.post("/api/v1/trash/" + id + "/restore", new JsonObject()), 409, "VOLUME_EXISTS", "name");
        steps.awaitTask(accepted(http.delete("/api/v1/volumes/" + other + "?purge=true")).getString("taskId"), "SUCCEEDED");
        assertEquals(404, http.get("/api/v1/volumes/" + other).status(), "purge=true destroys at once");

        JsonObject restored = accepted(http.post("/api/v1/trash/" + id + "/restore", new JsonObject()));
        steps.awaitTask(restored.getString("taskId"), "SUCCEEDED");
        JsonObject back = await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + id).json(), v -> "READY".equals(v.getString("status")));
        assertFalse(back.containsKey("trashedAt"), back.encode());
        assertEquals(1, back.getJsonArray("snapshots").size(), back.encode());
        assertTrue(names(http.getAll("/api/v1/domains/" + domain + "/volumes")).contains("keeps"));
        assertEquals(0, http.getAll("/api/v1/trash").size());
        Path top = dataOf(back);
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0xa1 0 1M", top.toString());
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0xb2 1M 1M", top.toString());
        assertTrue(steps.events(VolumeUntrashed.class).stream().anyMatch(e -> e.getVolumeId().equals(id)));
    }

    @Test
    @Order(2)
    void aVolumeInTheTrashIsPurgedForGoodAndWhatCannotBeDoneIsRefused() throws Exception {
        String id = volume("goes");
        assertError(http.delete("/api/v1/trash/" + id), 404, "NOT_IN_TRASH", null);
        assertError(http.post("/api/v1/trash/" + id + "/restore", new JsonObject()), 404, "NOT_IN_TRASH", null);
        steps.awaitTask(accepted(http.delete("/api/v1/volumes/" + id)).getString("taskId"), "SUCCEEDED");
        assertError(http.delete("/api/v1/volumes/" + id), 409, "VOLUME_TRASHED", null);
        assertError(http.post("/api/v1/volumes/" + id + "/prepare", new JsonObject().put("hostId", "host-1")), 409, "VOLUME_NOT_READY", null);

        JsonObject purged = accepted(http.delete("/api/v1/trash/" + id + "?wipe=true"));
        assertTrue(purged.getBoolean("wipe"), purged.encode());
        steps.awaitTask(purged.getString("taskId"), "SUCCEEDED");
        assertEquals(404, http.get("/api/v1/volumes/" + id).status());
        assertFalse(delinked().anyMatch(f -> f.startsWith(id)), "nothing of it stays on the storage");
        assertFalse(live().anyMatch(f -> f.startsWith(id)), "nothing of it stays on the storage");
        assertTrue(steps.events(VolumeDeleted.class).stream().anyMatch(e -> e.getVolumeId().equals(id) && e.getWiped()));
        assertEquals(0, http.get("/api/v1/domains/" + domain).json().getJsonObject("trash").getInteger("volumes"));
        assertEquals(404, http.delete("/api/v1/trash/" + java.util.UUID.randomUUID()).status());
    }

    /**
     * A manager whose retention is a second takes over and empties the trash of what has been there
     * longer, but for a domain that keeps its trash an hour; until that domain's retention is cut.
     */
    @Test
    @Order(3)
    void pastTheRetentionTheActiveManagerPurgesTheTrash(@TempDir Path kept) throws Exception {
        String id = volume("expires");
        steps.awaitTask(accepted(http.delete("/api/v1/volumes/" + id)).getString("taskId"), "SUCCEEDED");
        JsonObject slow = http.post("/api/v1/domains", new JsonObject().put("name", "keeps-an-hour").put("driver", "file")
                .put("trashRetention", 3600).put("properties", new JsonObject().put("path", kept.toString()))).json();
        assertEquals(3600, slow.getLong("trashRetention"), slow.encode());
        JsonObject made = accepted(http.post("/api/v1/domains/" + slow.getString("id") + "/volumes", new JsonObject().put("name", "stays")
                .put("virtualSize", 32 * MIB)));
        steps.awaitTask(made.getString("taskId"), "SUCCEEDED");
        String stays = made.getString("volumeId");
        steps.awaitTask(accepted(http.delete("/api/v1/volumes/" + stays)).getString("taskId"), "SUCCEEDED");
        assertError(http.patch("/api/v1/domains/" + slow.getString("id"), new JsonObject().put("trashRetention", 0)), 400, "OUT_OF_RANGE",
                "trashRetention");

        Manager sweeping = cluster.startManager("manager-2", c -> c.withTrashRetention(Duration.ofSeconds(1)));
        cluster.manager.close();
        Http next = new Http(sweeping.baseUrl());
        await().atMost(WAIT).until(() -> next.get("/api/v1/volumes/" + id).status() == 404);
        assertFalse(delinked().anyMatch(f -> f.startsWith(id)), "purged from the storage too");
        assertTrue(steps.events(VolumeDeleted.class).stream().anyMatch(e -> e.getVolumeId().equals(id)));
        await().atMost(WAIT).until(() -> ids(next.getAll("/api/v1/trash")), List.of(stays)::equals); // the one an hour's domain keeps

        JsonObject cut = next.patch("/api/v1/domains/" + slow.getString("id"), new JsonObject().put("trashRetention", 1)).json();
        assertEquals(1, cut.getLong("trashRetention"), cut.encode());
        await().atMost(WAIT).until(() -> next.get("/api/v1/volumes/" + stays).status() == 404);
        assertEquals(0, next.getAll("/api/v1/trash").size());
    }

    private Stream<String> delinked() throws Exception {
        Path dir = files.resolve("delinked");
        return Files.isDirectory(dir) ? listNames(dir) : Stream.empty();
    }

    private Stream<String> live() throws Exception {
        return listNames(files.resolve("volumes"));
    }

    private static Stream<String> listNames(Path dir) throws Exception {
        try (Stream<Path> list = Files.list(dir)) {
            return list.map(p -> p.getFileName().toString()).toList().stream();
        }
    }

    private String volume(String name) {
        JsonObject answer = accepted(http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", name)
                .put("virtualSize", 32 * MIB).put("format", "qcow2")));
        steps.awaitTask(answer.getString("taskId"), "SUCCEEDED");
        return answer.getString("volumeId");
    }

    private static List<String> names(JsonArray volumes) {
        return volumes.stream().map(o -> ((JsonObject) o).getString("name")).toList();
    }

    private static List<String> ids(JsonArray volumes) {
        return volumes.stream().map(o -> ((JsonObject) o).getString("id")).toList();
    }
}
