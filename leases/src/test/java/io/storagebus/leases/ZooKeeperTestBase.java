package io.storagebus.leases;

import java.util.ArrayList;
import java.util.List;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A real ZooKeeper server per test, and clients with short sessions that are closed after it. */
abstract class ZooKeeperTestBase {
    protected TestingServer zk;
    protected final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void startZooKeeper() throws Exception {
        zk = new TestingServer(true);
    }

    @AfterEach
    void stopAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        zk.close();
    }

    protected CuratorFramework client(int sessionTimeoutMs) {
        CuratorFramework c = CuratorFrameworkFactory.builder().connectString(zk.getConnectString())
                .sessionTimeoutMs(sessionTimeoutMs).connectionTimeoutMs(Math.min(2000, sessionTimeoutMs / 2))
                .retryPolicy(new ExponentialBackoffRetry(100, 3)).build();
        c.start();
        closeables.add(c);
        return c;
    }
}
