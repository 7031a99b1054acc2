package io.storagebus.leases;

import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

/** How every StorageBus process connects to ZooKeeper. */
public final class ZooKeeperClients {
    private ZooKeeperClients() {
    }

    /**
     * A started client, connected or failed within 30 s.
     *
     * @param sessionTimeoutMs how long ZooKeeper keeps this process's ephemeral nodes (SPM
     *        holder, latch) after it goes silent: the floor of failover after a crash
     */
    public static CuratorFramework connect(String connectString, int sessionTimeoutMs) throws InterruptedException {
        return connect(connectString, sessionTimeoutMs, null);
    }

    /**
     * As {@link #connect(String, int)}, authenticated with {@code auth} (null: anonymous); every
     * znode the client creates is then readable and writable by that identity only.
     */
    public static CuratorFramework connect(String connectString, int sessionTimeoutMs, ZooKeeperAuth auth) throws InterruptedException {
        return connect(connectString, sessionTimeoutMs, auth, null);
    }

    /** As {@link #connect(String, int, ZooKeeperAuth)}, over TLS when {@code tls} is not null. */
    public static CuratorFramework connect(String connectString, int sessionTimeoutMs, ZooKeeperAuth auth, ZooKeeperTls tls)
            throws InterruptedException {
        CuratorFrameworkFactory.Builder builder = CuratorFrameworkFactory.builder();
        if (auth != null) {
            builder.authorization("digest", auth.credentials()).aclProvider(auth.aclProvider());
        }
        if (tls != null) {
            builder.zkClientConfig(tls.clientConfig());
        }
        CuratorFramework client = builder
                .connectString(connectString)
                .sessionTimeoutMs(sessionTimeoutMs)
                .connectionTimeoutMs(Math.min(sessionTimeoutMs, 5000))
                .retryPolicy(new ExponentialBackoffRetry(200, 10, 2000))
                // The configured connect string is authoritative: Curator's ensemble tracker would
                // replace it with the servers' own addresses from /zookeeper/config, bypassing any
                // proxy or load balancer the operator put in between.
                .ensembleTracker(false)
                .build();
        client.start();
        if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
            client.close();
            throw new IllegalStateException("cannot reach ZooKeeper at " + connectString);
        }
        return client;
    }
}
