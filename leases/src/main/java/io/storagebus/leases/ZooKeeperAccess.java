package io.storagebus.leases;

import java.util.Objects;

import org.apache.curator.framework.CuratorFramework;

/**
 * How a process reaches ZooKeeper: the ensemble, its session timeout, the identity it shows
 * and the TLS it speaks.
 *
 * @param sessionTimeoutMs how long ZooKeeper keeps this process's ephemeral nodes (SPM holder,
 *        latch, host registration) after it goes silent: the floor of failover after a crash
 * @param auth the digest identity owning every znode created; null: anonymous, open znodes
 * @param tls TLS to the ensemble; null: plain TCP
 */
public record ZooKeeperAccess(String connectString, int sessionTimeoutMs, ZooKeeperAuth auth, ZooKeeperTls tls) {
    public ZooKeeperAccess {
        Objects.requireNonNull(connectString, "connectString");
        if (sessionTimeoutMs <= 0) {
            throw new IllegalArgumentException("the ZooKeeper session timeout must be positive, not " + sessionTimeoutMs);
        }
    }

    /** Anonymous, over plain TCP: tests and the dev mode. */
    public static ZooKeeperAccess of(String connectString, int sessionTimeoutMs) {
        return new ZooKeeperAccess(connectString, sessionTimeoutMs, null, null);
    }

    public ZooKeeperAccess withAuth(ZooKeeperAuth identity) {
        return new ZooKeeperAccess(connectString, sessionTimeoutMs, identity, tls);
    }

    public ZooKeeperAccess withTls(ZooKeeperTls transport) {
        return new ZooKeeperAccess(connectString, sessionTimeoutMs, auth, transport);
    }

    /** A started client, connected or failed within 30 s. */
    public CuratorFramework connect() throws InterruptedException {
        return ZooKeeperClients.connect(connectString, sessionTimeoutMs, auth, tls);
    }
}
