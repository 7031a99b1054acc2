package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

import io.storagebus.manager.Manager;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A domain needs storage of its own: not a directory of the operating system or of StorageBus's
 * own services, not one in, on or above another domain's (whatever the two drivers), and two
 * requests for one directory sent together make one domain, against a real manager and directories.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DomainStorageIT {
    private Cluster cluster;
    private Manager manager;
    private Http http;
    private Path tmp;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        cluster = new Cluster(new InProcessKafka(tmp.resolve("kafka")), tmp);
        cluster.startWorker("host-1");
        manager = cluster.startManager("manager-1", c -> c.withReservedDirectories(List.of(tmp.resolve("kafka"))));
        http = new Http(manager.baseUrl());
        await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/api/v1/health").status() == 200);
    }

    @AfterAll
    void stop() {
        if (manager != null) {
            manager.close();
        }
        cluster.close();
    }

    private Http.Response domain(String name, String driver, String path) {
        return http.post("/api/v1/domains", new JsonObject().put("name", name).put("driver", driver)
                .put("properties", new JsonObject().put("path", path)));
    }

    @Test
    void aDomainNeedsADirectoryOfItsOwn() throws Exception {
        Path outer = Files.createDirectories(tmp.resolve("outer/inner/deeper"));
        assertEquals(201, domain("inner", "file", tmp.resolve("outer/inner").toString()).status());

        assertError(domain("same-blockfile", "blockfile", tmp.resolve("outer/inner").toString()), 409, "STORAGE_IN_USE", "properties");
        assertError(domain("inside", "file", outer.toString()), 409, "STORAGE_IN_USE", "properties");
        assertError(domain("above", "blockfile", tmp.resolve("outer").toString()), 409, "STORAGE_IN_USE", "properties");
        assertError(domain("root", "file", "/"), 400, "INVALID_PROPERTIES", "properties.path");
        assertError(domain("etc", "file", "/etc"), 400, "INVALID_PROPERTIES", "properties.path");
        assertError(domain("proc", "blockfile", "/proc/self"), 400, "INVALID_PROPERTIES", "properties.path");
        assertError(domain("kafka", "file", tmp.resolve("kafka").toString()), 400, "RESERVED_STORAGE", "properties");
        assertError(domain("above-kafka", "file", tmp.toString()), 400, "RESERVED_STORAGE", "properties");
        assertError(domain("dotdot", "file", tmp.resolve("outer") + "/../outer/"), 400, "INVALID_PROPERTIES", "properties.path");
        assertTrue(Files.notExists(tmp.resolve("kafka/volumes")), "nothing was created in Kafka's directory");
    }

    @Test
    void twentyCreatesOnOneDirectorySentTogetherMakeOneDomain() throws Exception {
        String shared = Files.createDirectories(tmp.resolve("shared")).toString();
        List<CompletableFuture<Http.Response>> sent = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            String name = "shared-" + i;
            String driver = i % 2 == 0 ? "file" : "blockfile";
            sent.add(CompletableFuture.supplyAsync(() -> domain(name, driver, shared)));
        }
        Map<Integer, Integer> statuses = new TreeMap<>();
        for (CompletableFuture<Http.Response> r : sent) {
            Http.Response response = r.get();
            statuses.merge(response.status(), 1, Integer::sum);
            if (response.status() != 201) {
                assertEquals("STORAGE_IN_USE", response.json().getString("code"), response.body());
            }
        }
        assertEquals(Map.of(201, 1, 409, 19), statuses);
        assertEquals(1, http.get("/api/v1/domains").array().stream().map(JsonObject.class::cast)
                .filter(d -> shared.equals(d.getJsonObject("properties").getString("path"))).count());
    }

    private static void assertError(Http.Response r, int status, String code, String field) {
        assertEquals(status, r.status(), r.body());
        JsonObject error = r.json();
        assertEquals(code, error.getString("code"), r.body());
        assertEquals(field, error.getString("field"), r.body());
    }
}
