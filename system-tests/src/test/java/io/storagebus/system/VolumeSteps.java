package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;

/**
 * The steps the volume tests take through the REST API and read back from Kafka and the
 * storage: a request accepted or created, a task or a move awaited to its end, the events of a
 * type, where a volume's data is, a tool run to its end.
 */
final class VolumeSteps {
    private final Http http;
    private final String bootstrapServers;
    private final Duration wait;

    VolumeSteps(Http http, String bootstrapServers, Duration wait) {
        this.http = http;
        this.bootstrapServers = bootstrapServers;
        this.wait = wait;
    }

    /** Waits for the task to end and asserts how. */
    void awaitTask(String taskId, String status) {
        JsonObject task = await().atMost(wait).until(() -> http.get("/api/v1/tasks/" + taskId).json(),
                t -> !List.of("PENDING", "RUNNING").contains(t.getString("status")));
        assertEquals(status, task.getString("status"), task.encode());
    }

    /** Waits for the volume's move to end and asserts it is READY in the target domain; the volume. */
    JsonObject awaitMoved(String volumeId, String targetDomainId) {
        JsonObject volume = await().atMost(wait).until(() -> http.get("/api/v1/volumes/" + volumeId).json(),
                v -> !"MOVING".equals(v.getString("status")));
        assertEquals("READY", volume.getString("status"), volume.encode());
        assertEquals(targetDomainId, volume.getString("domainId"), volume.encode());
        return volume;
    }

    /** A snapshot of the volume, taken to its end. */
    void snapshot(String volumeId, String name) {
        awaitTask(accepted(http.post("/api/v1/volumes/" + volumeId + "/snapshots", new JsonObject().put("name", name))).getString("taskId"),
                "SUCCEEDED");
    }

    /** Prepares the volume on the host, to its end; the path the host gave it (a file, or a device it activated). */
    String prepare(String volumeId, String hostId) throws Exception {
        awaitTask(accepted(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", hostId))).getString("taskId"),
                "SUCCEEDED");
        return events(io.storagebus.schema.VolumePrepared.class).stream().filter(p -> p.getVolumeId().equals(volumeId))
                .reduce((a, b) -> b).orElseThrow().getPath();
    }

    /** Every public event of the type so far, in the topic's order. */
    <T extends SpecificRecord> List<T> events(Class<T> type) throws Exception {
        List<T> found = new ArrayList<>();
        for (var r : TopicReader.readAll(bootstrapServers, Topics.EVENTS)) {
            SpecificRecord event = MessageCodec.standard().decode(r.value());
            if (type.isInstance(event)) {
                found.add(type.cast(event));
            }
        }
        return found;
    }

    /** The file (file domains: a file: URI) or device path of a volume's data. */
    static Path dataOf(JsonObject volume) {
        String uri = volume.getString("uri");
        return uri.startsWith("file:") ? Path.of(URI.create(uri)) : Path.of(uri);
    }

    /** Runs a command to its end and asserts it succeeded. */
    static void run(String... command) throws Exception {
        output(command);
    }

    /** Runs a command to its end, asserts it succeeded and returns what it printed. */
    static String output(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command) + " did not end");
        assertEquals(0, p.exitValue(), String.join(" ", command) + ": " + output);
        return output;
    }

    /** An error answer: its status, stable code and offending field (null: none). */
    static void assertError(Http.Response r, int status, String code, String field) {
        assertEquals(status, r.status(), r.body());
        assertEquals(code, r.json().getString("code"), r.body());
        assertEquals(field, r.json().getString("field"), r.body());
    }

    /** A 201 answer's id. */
    static String created(Http.Response r) {
        assertEquals(201, r.status(), r.body());
        return r.json().getString("id");
    }

    /** A 202 answer's body. */
    static JsonObject accepted(Http.Response r) {
        assertEquals(202, r.status(), r.body());
        return r.json();
    }
}
