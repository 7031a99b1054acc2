package io.storagebus.manager;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.Topics;
import io.storagebus.leases.ZooKeeperAccess;
import io.storagebus.manager.security.TlsKeyStore;

/**
 * What a manager needs to run.
 *
 * @param managerId unique among the managers of one installation
 * @param kafka the brokers, and the manager's identity there
 * @param zooKeeper the ensemble, the session timeout (the floor of a standby's takeover after a
 *        crash), the digest identity and TLS
 * @param httpPort 0 picks a free port
 * @param advertisedUrl how other managers' clients reach this one's REST API, given to them in a
 *        307 when this one is active; null means {@code http://httpHost:port}
 * @param defaultPool pool of domains created without one
 * @param apiTokensFile the REST API's tokens ({@code name role sha256} lines); null: no
 *        authentication, which the manager warns of when it starts
 * @param tls the REST API's certificate (https); null: plain http, which the manager warns of
 * @param signer signs every command, for workers that check who sent it; null: unsigned
 * @param storageCheckTimeout how long a new domain waits for a host to check its storage
 * @param taskRetention how long a finished task stays in the state before the active manager
 *        removes it (its volume stays; an Idempotency-Key is remembered as long as its task)
 * @param trashRetention how long a deleted volume stays in the trash before the active manager
 *        has it purged
 */
public record ManagerConfig(String managerId, KafkaConnection kafka, ZooKeeperAccess zooKeeper, String httpHost, int httpPort,
                            String advertisedUrl, String defaultPool, short topicReplication, Path apiTokensFile, TlsKeyStore tls,
                            CommandSigner signer, List<Path> reservedDirectories, java.time.Duration storageCheckTimeout,
                            java.time.Duration taskRetention, java.time.Duration trashRetention) {
    public static final java.time.Duration STORAGE_CHECK_TIMEOUT = java.time.Duration.ofSeconds(30);
    public static final java.time.Duration TASK_RETENTION = java.time.Duration.ofDays(7);
    public static final java.time.Duration TRASH_RETENTION = java.time.Duration.ofDays(7);
    public static final Pattern MANAGER_ID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

    public ManagerConfig {
        reservedDirectories = reservedDirectories == null ? List.of() : List.copyOf(reservedDirectories);
        storageCheckTimeout = storageCheckTimeout == null ? STORAGE_CHECK_TIMEOUT : storageCheckTimeout;
        taskRetention = taskRetention == null ? TASK_RETENTION : taskRetention;
        trashRetention = trashRetention == null ? TRASH_RETENTION : trashRetention;
        if (taskRetention.toSeconds() < 1 || trashRetention.toSeconds() < 1) {
            throw new IllegalArgumentException("the task and trash retentions must be at least a second, got " + taskRetention + " and "
                    + trashRetention);
        }
        if (storageCheckTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("the storage check timeout must be positive, got " + storageCheckTimeout);
        }
        if (managerId == null || !MANAGER_ID.matcher(managerId).matches()) {
            throw new IllegalArgumentException("invalid manager id '" + managerId + "': " + MANAGER_ID.pattern());
        }
        if (!Topics.POOL_NAME.matcher(defaultPool).matches()) {
            throw new IllegalArgumentException("invalid default pool '" + defaultPool + "': " + Topics.POOL_NAME.pattern());
        }
    }

    /** Plain Kafka and ZooKeeper, no tokens, no TLS, unsigned commands: tests, benchmarks, the dev mode. */
    public static ManagerConfig of(String bootstrapServers, String zkConnect, int httpPort) {
        return new ManagerConfig("manager-1", KafkaConnection.plaintext(bootstrapServers), ZooKeeperAccess.of(zkConnect, 6000), "127.0.0.1",
                httpPort, null, "default", (short) 1, null, null, null, List.of(), STORAGE_CHECK_TIMEOUT, TASK_RETENTION, TRASH_RETENTION);
    }

    public ManagerConfig withId(String id) {
        return new ManagerConfig(id, kafka, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication, apiTokensFile, tls,
                signer, reservedDirectories, storageCheckTimeout, taskRetention, trashRetention);
    }

    public ManagerConfig withApiTokens(Path file) {
        return new ManagerConfig(managerId, kafka, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication, file, tls,
                signer, reservedDirectories, storageCheckTimeout, taskRetention, trashRetention);
    }

    public ManagerConfig withZooKeeper(ZooKeeperAccess access) {
        return new ManagerConfig(managerId, kafka, access, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication, apiTokensFile,
                tls, signer, reservedDirectories, storageCheckTimeout, taskRetention, trashRetention);
    }

    public ManagerConfig withKafka(KafkaConnection connection) {
        return new ManagerConfig(managerId, connection, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                apiTokensFile, tls, signer, reservedDirectories, storageCheckTimeout, taskRetention, trashRetention);
    }

    public ManagerConfig withSigner(CommandSigner commandSigner) {
        return new ManagerConfig(managerId, kafka, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                apiTokensFile, tls, commandSigner, reservedDirectories, storageCheckTimeout, taskRetention, trashRetention);
    }

    /**
     * Directories no domain may be on, in or above: those of services running beside the
     * manager (the dev stack's Kafka and ZooKeeper), which a domain's {@code volumes/} would break.
     */
    public ManagerConfig withReservedDirectories(List<Path> directories) {
        return new ManagerConfig(managerId, kafka, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                apiTokensFile, tls, signer, directories, storageCheckTimeout, taskRetention, trashRetention);
    }

    public ManagerConfig withTls(TlsKeyStore keyStore) {
        return new ManagerConfig(managerId, kafka, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                apiTokensFile, keyStore, signer, reservedDirectories, storageCheckTimeout, taskRetention, trashRetention);
    }

    /** How long a new domain waits for a host of its pool to check its storage. */
    public ManagerConfig withStorageCheckTimeout(java.time.Duration timeout) {
        return new ManagerConfig(managerId, kafka, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                apiTokensFile, tls, signer, reservedDirectories, timeout, taskRetention, trashRetention);
    }

    public ManagerConfig withTaskRetention(java.time.Duration retention) {
        return new ManagerConfig(managerId, kafka, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                apiTokensFile, tls, signer, reservedDirectories, storageCheckTimeout, retention, trashRetention);
    }

    public ManagerConfig withTrashRetention(java.time.Duration retention) {
        return new ManagerConfig(managerId, kafka, zooKeeper, httpHost, httpPort, advertisedUrl, defaultPool, topicReplication,
                apiTokensFile, tls, signer, reservedDirectories, storageCheckTimeout, taskRetention, retention);
    }
}
