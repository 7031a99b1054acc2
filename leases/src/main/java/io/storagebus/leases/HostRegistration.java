package io.storagebus.leases;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.storagebus.lifecycle.Lifecycle;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;

/**
 * A host's presence in ZooKeeper: the ephemeral node {@code /storagebus/hosts/<hostId>}, kept
 * there through connection loss and recreated after a session expires, gone when the host is.
 */
public final class HostRegistration implements AutoCloseable {
    static final String ROOT = "/storagebus/hosts";

    private final CuratorFramework client;
    private final String path;
    private final PersistentNode node;
    private final Lifecycle lifecycle = new Lifecycle("host registration");

    public HostRegistration(CuratorFramework client, String hostId, String pool) {
        byte[] data = (pool + "\n" + Instant.now().toEpochMilli()).getBytes(StandardCharsets.UTF_8);
        this.client = client;
        this.path = ROOT + "/" + hostId;
        this.node = new PersistentNode(client, CreateMode.EPHEMERAL, false, path, data);
    }

    /**
     * Registers, and returns once the host node belongs to this session. After a crash and a
     * quick restart the node is still the crashed process's until its session expires (Curator's
     * node adopts it meanwhile), and a host is only known to the manager through a node of its
     * own; so this waits, up to {@code waitMillis}, for the old one to go and this one to come.
     */
    public void start(long waitMillis) throws InterruptedException {
        lifecycle.start();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        node.start();
        if (!node.waitForInitialCreate(waitMillis, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("host node " + path + " was not created in " + waitMillis + " ms");
        }
        while (true) {
            CountDownLatch changed = new CountDownLatch(1);
            Stat stat;
            try {
                stat = client.checkExists().usingWatcher((CuratorWatcher) event -> changed.countDown()).forPath(path);
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("cannot read host node " + path + ": " + e.getMessage(), e);
            }
            if (stat != null && stat.getEphemeralOwner() == sessionId()) {
                return;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0 || !changed.await(left, TimeUnit.NANOSECONDS)) {
                throw new IllegalStateException("host node " + path + " still belongs to another ZooKeeper session after " + waitMillis
                        + " ms: is another worker running with this host id?");
            }
        }
    }

    private long sessionId() {
        try {
            return client.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) {
            throw new IllegalStateException("no ZooKeeper session", e);
        }
    }

    @Override
    public void close() throws Exception {
        if (lifecycle.close()) {
            node.close();
        }
    }
}
