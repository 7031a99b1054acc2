package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.storagebus.leases.ZooKeeperAuth;
import io.storagebus.leases.ZooKeeperClients;
import io.storagebus.leases.ZooKeeperTls;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.storagebus.manager.Manager;
import io.vertx.core.json.JsonObject;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * StorageBus on ZooKeeper over TLS with digest auth: the worker and the manager elect, register and
 * lease as usual, and their znodes are theirs alone. A client without the password, or with a
 * wrong one, can neither read the SPM's holder, the hosts or the leases, nor join the SPM
 * election; a client with the identity can.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ZooKeeperAuthIT {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String LATCH = "/storagebus/pools/default/spm/latch";

    private Cluster cluster;
    private Manager manager;
    private final ZooKeeperAuth auth = new ZooKeeperAuth("storagebus", "s3cret-" + System.nanoTime());
    private ZooKeeperTls tls;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        Path password = Files.writeString(dir.resolve("zk-password"), auth.password() + "\n");
        assertEquals(auth, ZooKeeperAuth.fromFile("storagebus", password));
        TestTls cert = TestTls.create(dir);
        tls = ZooKeeperTls.trusting(cert.certificate());
        EmbeddedZooKeeper zooKeeper = new EmbeddedZooKeeper(dir.resolve("zookeeper"), 0)
                .secured(cert.keystore(), Files.readString(cert.passwordFile()).strip(), cert.certificate()).start();
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), zooKeeper);
        cluster.startWorker("host-1", c -> c.withZooKeeper(c.zooKeeper().withAuth(auth).withTls(tls)));
        manager = cluster.startManager("manager-1", c -> c.withZooKeeper(c.zooKeeper().withAuth(auth).withTls(tls)));
        cluster.manager = manager;
        manager.defaultPoolReady().get(60, TimeUnit.SECONDS);
    }

    @AfterAll
    void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void theStackWorksAndItsZnodesAreClosedToAnyoneElse() throws Exception {
        Http http = new Http(manager.baseUrl());
        Http.Response domain = http.post("/api/v1/domains", new JsonObject().put("name", "d").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createTempDirectory("zk-auth").toString())));
        assertEquals(201, domain.status(), domain.body());
        Http.Response created = http.post("/api/v1/domains/" + domain.json().getString("id") + "/volumes",
                new JsonObject().put("name", "v").put("virtualSize", 1 << 20));
        String volumeId = created.json().getString("volumeId");
        await().atMost(WAIT).until(() -> "READY".equals(http.get("/api/v1/volumes/" + volumeId).json().getString("status")));
        Http.Response prepared = http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-1"));
        assertEquals(202, prepared.status(), prepared.body());
        await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().containsKey("lease"));

        try (CuratorFramework anonymous = ZooKeeperClients.connect(cluster.zooKeeper.connectString(), 6000, null, tls);
             CuratorFramework impostor = ZooKeeperClients.connect(cluster.zooKeeper.connectString(), 6000,
                     new ZooKeeperAuth("storagebus", "guessed"), tls)) {
            for (CuratorFramework stranger : new CuratorFramework[] {anonymous, impostor}) {
                assertThrows(KeeperException.NoAuthException.class, () -> stranger.getChildren().forPath("/storagebus"));
                assertThrows(KeeperException.NoAuthException.class, () -> stranger.getData().forPath("/storagebus/pools/default/spm/holder"));
                assertThrows(KeeperException.NoAuthException.class, () -> stranger.getChildren().forPath("/storagebus/hosts"));
                assertThrows(KeeperException.NoAuthException.class, () -> stranger.getChildren().forPath("/storagebus/leases"));
                assertThrows(KeeperException.NoAuthException.class, () -> stranger.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                        .forPath(LATCH + "/latch-"), "a stranger cannot stand for SPM");
                assertThrows(KeeperException.NoAuthException.class, () -> stranger.delete().forPath("/storagebus/pools/default/spm/holder"));
            }
        }
        try (CuratorFramework insider = ZooKeeperClients.connect(cluster.zooKeeper.connectString(), 6000, auth, tls)) {
            assertFalse(insider.getChildren().forPath(LATCH).isEmpty(), "the identity reads the election");
            assertTrue(insider.getChildren().forPath("/storagebus/hosts").contains("host-1"));
        }
        assertEquals(200, http.get("/api/v1/pools/default/spm").status(), "the manager still reads the SPM through its own session");
    }

    /** The port speaks TLS only: a plain client's request ("ruok", which a plain port answers "imok") gets no answer. */
    @Test
    void thePortRefusesPlainTcp() throws Exception {
        String[] hostPort = cluster.zooKeeper.connectString().split(":");
        try (Socket plain = new Socket(hostPort[0], Integer.parseInt(hostPort[1]))) {
            plain.setSoTimeout(3_000);
            plain.getOutputStream().write("ruok".getBytes(StandardCharsets.US_ASCII));
            String answer;
            try {
                answer = new String(plain.getInputStream().readNBytes(4), StandardCharsets.US_ASCII);
            } catch (SocketTimeoutException e) {
                answer = "(silence: the server waits for a TLS handshake)";
            }
            assertNotEquals("imok", answer, "a plain client was answered");
        }
    }
}
