package io.storagebus.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import io.vertx.core.json.JsonObject;

/** The REST calls the benchmarks make against a manager they started. */
record BenchRest(String baseUrl, HttpClient client) {
    /** A task's answer and how long it took to succeed. */
    record Timed(JsonObject answer, double seconds) {
    }

    BenchRest(String baseUrl) {
        this(baseUrl, HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build());
    }

    JsonObject get(String path) throws Exception {
        return new JsonObject(client.send(HttpRequest.newBuilder(URI.create(baseUrl + path)).build(), HttpResponse.BodyHandlers.ofString()).body());
    }

    JsonObject post(String path, JsonObject body) throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(baseUrl + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException("POST " + path + ": " + r.statusCode() + " " + r.body());
        }
        return new JsonObject(r.body());
    }

    /** Polls the task every 20 ms: fine enough for operations of seconds. */
    void awaitTask(String taskId) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
        while (System.nanoTime() < deadline) {
            JsonObject task = get("/api/v1/tasks/" + taskId);
            if ("SUCCEEDED".equals(task.getString("status"))) {
                return;
            }
            if ("FAILED".equals(task.getString("status"))) {
                throw new IllegalStateException("task failed: " + task.encode());
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        throw new IllegalStateException("task " + taskId + " did not end within 30 minutes");
    }

    /** Posts a request that starts a task and waits for its success, timing both. */
    Timed task(String path, JsonObject body) throws Exception {
        long started = System.nanoTime();
        JsonObject answer = post(path, body);
        awaitTask(answer.getString("taskId"));
        return new Timed(answer, (System.nanoTime() - started) / 1e9);
    }

    /** A domain whose storage is at {@code path}; its id. */
    String domain(String name, String driver, Path path) throws Exception {
        return post("/api/v1/domains", new JsonObject().put("name", name).put("driver", driver)
                .put("properties", new JsonObject().put("path", path.toString()))).getString("id");
    }

    /** A volume of the domain's default format, created to its end; its id. */
    String volume(String domainId, String name, long virtualSize) throws Exception {
        JsonObject created = post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", name).put("virtualSize", virtualSize));
        awaitTask(created.getString("taskId"));
        return created.getString("volumeId");
    }

    String snapshot(String volumeId, String name) throws Exception {
        JsonObject taken = post("/api/v1/volumes/" + volumeId + "/snapshots", new JsonObject().put("name", name));
        awaitTask(taken.getString("taskId"));
        return taken.getString("snapshotId");
    }

    Path top(String volumeId) throws Exception {
        return Path.of(URI.create(get("/api/v1/volumes/" + volumeId).getString("uri")));
    }
}
