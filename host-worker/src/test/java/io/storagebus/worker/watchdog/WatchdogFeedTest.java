package io.storagebus.worker.watchdog;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.storagebus.leases.VolumeLeases;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.storagebus.testkit.TcpProxy;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker's renewals against a real ZooKeeper reached through a proxy that can be slowed and
 * cut: a slow answer (well past the renewal period) still renews the guest's deadline from when
 * the question was asked, so a loaded ZooKeeper does not freeze guests; without answers the
 * deadline never moves past half a session timeout after the last question that was answered.
 */
class WatchdogFeedTest {
    private static final Duration SESSION = Duration.ofSeconds(6);
    @TempDir
    Path dir;
    private EmbeddedZooKeeper zooKeeper;
    private TcpProxy proxy;
    private CuratorFramework client;
    private VolumeLeases leases;
    private WatchdogFeed feed;
    private Process guest;

    @BeforeEach
    void start() throws Exception {
        zooKeeper = new EmbeddedZooKeeper(dir.resolve("zk"), 0).start();
        String zk = zooKeeper.connectString();
        proxy = new TcpProxy("127.0.0.1", Integer.parseInt(zk.substring(zk.lastIndexOf(':') + 1)));
        client = CuratorFrameworkFactory.newClient(proxy.address(), (int) SESSION.toMillis(), 5000, new RetryOneTime(100));
        client.start();
        leases = new VolumeLeases(client, "host-1", WatchdogFeed.guard(SESSION, true, Duration.ZERO), (lease, reason) -> { });
        leases.start();
        leases.acquire("vol-1");
        Path socket = dir.resolve("vm").resolve("qmp.sock");
        // "; true" keeps the shell from exec-ing sleep, so its command line keeps naming the socket.
        guest = new ProcessBuilder("sh", "-c", "sleep 120; true", socket.toString()).start();
        feed = new WatchdogFeed(dir.resolve("watchdog"), SESSION, leases);
        feed.start(new WatchdogFeed.Listener() {
            @Override
            public void watchdogDown(String reason) {
                // no watchdog runs here: only the renewals are looked at
            }

            @Override
            public void watchdogUp() {
            }
        });
        feed.guard("vol-1", socket);
        await().atMost(Duration.ofSeconds(10)).until(() -> deadline() > System.currentTimeMillis());
    }

    @AfterEach
    void stop() {
        feed.close();
        leases.close();
        client.close();
        proxy.close();
        zooKeeper.close();
        guest.destroyForcibly();
    }

    @Test
    void aSlowZooKeeperStillRenewsFromWhenItWasAsked() {
        // 700 ms each way: every answer comes 1.4 s after its question, nearly three renewal periods.
        proxy.delay(Duration.ofMillis(700));
        await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(8)).until(() -> deadline() > System.currentTimeMillis() + 1000);
    }

    @Test
    void withoutAnswersTheDeadlineStaysWithinHalfASessionOfTheLastQuestionAnswered() throws Exception {
        long cutAt = System.currentTimeMillis();
        proxy.cut();
        long limit = cutAt + SESSION.toMillis() / 2;
        await().during(Duration.ofSeconds(4)).atMost(Duration.ofSeconds(6)).until(() -> deadline() <= limit);
        assertTrue(deadline() < System.currentTimeMillis(), "the deadline ran out: the watchdog would freeze the guest");
    }

    private long deadline() throws Exception {
        Path file = dir.resolve("watchdog").resolve("vol-1" + LeaseRenewal.SUFFIX);
        if (!Files.exists(file)) {
            return 0;
        }
        return LeaseRenewal.parse(Files.readString(file, StandardCharsets.UTF_8)).deadlineMillis();
    }
}
