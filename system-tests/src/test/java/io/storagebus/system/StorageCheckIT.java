package io.storagebus.system;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.storagebus.manager.Manager;
import io.storagebus.testkit.StorageBusProcess;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A new domain's storage is checked by a host of its pool, not by the manager: the host's
 * objections come back naming it, a host that does not answer is a 504 after the configured wait
 * and stores nothing, a pool without hosts is a 503, and a host named that is not there is a 400.
 * One host is a process of its own, to freeze.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StorageCheckIT {
    private static final Duration CHECK_TIMEOUT = Duration.ofSeconds(3);
    private Cluster cluster;
    private Manager manager;
    private StorageBusProcess frozen;
    private Http http;
    private Path tmp;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        cluster = new Cluster(new InProcessKafka(tmp.resolve("kafka")), tmp);
        cluster.startWorker("host-1");
        frozen = StorageBusProcess.worker(Path.of(System.getProperty("storagebus.dist")), "host-2", cluster.kafka.bootstrapServers(),
                cluster.zooKeeper.connectString(), 6000, tmp).start();
        manager = cluster.startManager("manager-1", c -> c.withStorageCheckTimeout(CHECK_TIMEOUT));
        http = new Http(manager.baseUrl());
        await().atMost(Duration.ofSeconds(60)).until(() -> http.get("/api/v1/hosts").array().size() == 2);
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(frozen, manager, cluster);
    }

    private Http.Response domain(String name, String path, String hostId, String pool) {
        JsonObject body = new JsonObject().put("name", name).put("driver", "file").put("properties", new JsonObject().put("path", path));
        if (hostId != null) {
            body.put("hostId", hostId);
        }
        if (pool != null) {
            body.put("pool", pool);
        }
        return http.post("/api/v1/domains", body);
    }

    @Test
    void theHostsObjectionsComeBackNamingIt() {
        Http.Response missing = domain("missing", tmp.resolve("no-such-directory").toString(), "host-1", null);
        assertEquals(400, missing.status(), missing.body());
        assertEquals("INVALID_PROPERTIES", missing.json().getString("code"));
        assertEquals("properties.path", missing.json().getString("field"));
        assertTrue(missing.json().getString("message").contains("checked on host host-1"), missing.body());
        assertTrue(http.get("/api/v1/domains").array().stream().noneMatch(d -> ((JsonObject) d).getString("name").equals("missing")),
                "nothing stored");
    }

    @Test
    void aHostThatIsNotThereOrAPoolWithoutHostsIsSaidSo() {
        Http.Response unknown = domain("unknown-host", tmp.toString(), "host-9", null);
        assertEquals(400, unknown.status(), unknown.body());
        assertEquals("UNKNOWN_HOST", unknown.json().getString("code"));
        assertEquals("hostId", unknown.json().getString("field"));
        Http.Response empty = domain("empty-pool", tmp.toString(), null, "empty");
        assertEquals(503, empty.status(), empty.body());
        assertEquals("NO_HOST", empty.json().getString("code"));
        assertTrue(empty.json().getString("message").contains("pool 'empty'"), empty.body());
    }

    @Test
    void aHostThatDoesNotAnswerStoresNothingAndALateAnswerChangesNothing() throws Exception {
        Path storage = Files.createDirectories(tmp.resolve("checked-late"));
        frozen.freeze();
        try {
            long started = System.nanoTime();
            Http.Response late = domain("late", storage.toString(), "host-2", null);
            assertEquals(504, late.status(), late.body());
            assertEquals("STORAGE_CHECK_TIMEOUT", late.json().getString("code"));
            assertTrue(late.json().getString("message").contains("host 'host-2'"), late.body());
            assertTrue(System.nanoTime() - started >= CHECK_TIMEOUT.toNanos(), "it waited the configured time");
        } finally {
            frozen.thaw();
        }
        // The thawed host answers the old check now; nobody waits for it, and nothing is stored.
        // A new check may still time out while the host catches up on its command topic (a loaded machine): asked again then.
        Http.Response checked = await().atMost(Duration.ofSeconds(60))
                .until(() -> domain("late", storage.toString(), "host-2", null), r -> r.status() != 504);
        assertEquals(201, checked.status(), checked.body());
        assertEquals("host-2", checked.json().getString("checkedBy"));
        assertEquals(1, http.get("/api/v1/domains").array().stream().filter(d -> ((JsonObject) d).getString("name").equals("late")).count());
    }
}
