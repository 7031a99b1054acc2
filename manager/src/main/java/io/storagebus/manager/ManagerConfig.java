package io.storagebus.manager;

import java.nio.file.Path;
import java.util.regex.Pattern;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.Topics;
import io.storagebus.leases.ZooKeeperAuth;
import io.storagebus.leases.ZooKeeperTls;
import io.storagebus.manager.security.TlsKeyStore;

/**
 * What a manager needs to run.
 *
 * @param managerId unique among the managers of one installation
 * @param kafka the brokers, and the manager's identity there
 * @param httpPort 0 picks a free port
 * @param advertisedUrl how other managers' clients reach this one's REST API, given to them in a
 *        307 when this one is active; null means {@code http://httpHost:port}
 * @param defaultPool pool of domains created without one
 * @param zkSessionTimeoutMs how long ZooKeeper waits before it declares this manager gone: the
 *        floor of a standby's takeover after a crash
 * @param apiTokensFile the REST API's tokens ({@code name role sha256} lines); null: no
 *        authentication, which the manager warns of when it starts
 * @param zkAuth the identity shown to ZooKeeper and owning every znode created; null: anonymous
 * @param tls the REST API's certificate (https); null: plain http, which the manager warns of
 * @param signer signs every command, for workers that check who sent it; null: unsigned
 * @param zkTls TLS to ZooKeeper; null: plain TCP
 */
public record ManagerConfig(String managerId, KafkaConnection kafka, String zkConnect, String httpHost, int httpPort,
                            String advertisedUrl, String defaultPool, short topicReplication, int zkSessionTimeoutMs,
                            Path apiTokensFile, ZooKeeperAuth zkAuth, TlsKeyStore tls, CommandSigner signer,
                            ZooKeeperTls zkTls) {
    public static final Pattern MANAGER_ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

    public ManagerConfig {
        if (managerId == null || !MANAGER_ID.matcher(managerId).matches()) {
            throw new IllegalArgumentException("invalid manager id '" + managerId + "': " + MANAGER_ID.pattern());
        }
        if (!Topics.POOL_NAME.matcher(defaultPool).matches()) {
            throw new IllegalArgumentException("invalid default pool '" + defaultPool + "': " + Topics.POOL_NAME.pattern());
        }
    }

    public static ManagerConfig of(String bootstrapServers, String zkConnect, int httpPort) {
        return new ManagerConfig("manager-1", KafkaConnection.plaintext(bootstrapServers), zkConnect, "127.0.0.1", httpPort, null, "default",
                (short) 1, 6000, null, null, null, null, null);
    }

    public ManagerConfig withId(String id) {
        return new ManagerConfig(id, kafka, zkConnect, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                zkSessionTimeoutMs, apiTokensFile, zkAuth, tls, signer, zkTls);
    }

    public ManagerConfig withApiTokens(Path file) {
        return new ManagerConfig(managerId, kafka, zkConnect, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                zkSessionTimeoutMs, file, zkAuth, tls, signer, zkTls);
    }

    public ManagerConfig withZooKeeperAuth(ZooKeeperAuth auth) {
        return new ManagerConfig(managerId, kafka, zkConnect, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                zkSessionTimeoutMs, apiTokensFile, auth, tls, signer, zkTls);
    }

    public ManagerConfig withKafka(KafkaConnection connection) {
        return new ManagerConfig(managerId, connection, zkConnect, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                zkSessionTimeoutMs, apiTokensFile, zkAuth, tls, signer, zkTls);
    }

    public ManagerConfig withSigner(CommandSigner commandSigner) {
        return new ManagerConfig(managerId, kafka, zkConnect, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                zkSessionTimeoutMs, apiTokensFile, zkAuth, tls, commandSigner, zkTls);
    }

    public ManagerConfig withZooKeeperTls(ZooKeeperTls zooKeeperTls) {
        return new ManagerConfig(managerId, kafka, zkConnect, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                zkSessionTimeoutMs, apiTokensFile, zkAuth, tls, signer, zooKeeperTls);
    }

    public ManagerConfig withTls(TlsKeyStore keyStore) {
        return new ManagerConfig(managerId, kafka, zkConnect, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                zkSessionTimeoutMs, apiTokensFile, zkAuth, keyStore, signer, zkTls);
    }
}
