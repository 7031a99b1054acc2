package io.storagebus.worker;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.Topics;
import io.storagebus.leases.ZooKeeperAccess;
import io.storagebus.worker.thin.ExtendPolicy;
import io.storagebus.worker.thin.TimeToFull;
import io.storagebus.worker.transfer.TransferEndpoint;

/**
 * What a host worker needs to run.
 *
 * @param kafka the brokers, and this host's own identity there: it reads its host topic and
 *        writes its reports, votes and events as it
 * @param spmKafka the identity of the pool's SPM, used only while this host holds the role: it
 *        alone may write pool state and send commands to other hosts (the same as {@code kafka}
 *        where no separate SPM identity is configured)
 * @param zooKeeper the ensemble, the session timeout (the floor of SPM failover after a crash),
 *        the digest identity and TLS
 * @param topicReplication replication factor of topics this worker creates if they are missing
 * @param extendPolicy when and by how much thin volumes are extended: the SPM extends by it and
 *        hosts arm their write thresholds by it, so every worker of a pool must have the same
 * @param blockStatsInterval how often a host reads guests' highest write offsets as a fallback
 *        to write-threshold events, and repeats a report the SPM has not answered
 * @param issuerPolicy whose commands this worker carries out
 * @param qmpDirectory where this host's QEMUs keep their QMP sockets: a monitor request naming a
 *        socket elsewhere is refused, so no caller can make the host talk to another service's socket
 * @param timeToFull when the SPM warns that a domain's forecast time to full is short
 * @param watchdogDirectory where this host's lease watchdog ({@code storagebus watchdog}) reads
 *        the renewals of the leases its guests write under; null: no watchdog, a frozen worker
 *        then leaves its guests running
 * @param transfers where the host serves image transfers while it is the SPM
 */
public record WorkerConfig(String hostId, String pool, KafkaConnection kafka, KafkaConnection spmKafka, ZooKeeperAccess zooKeeper,
                           short topicReplication, ExtendPolicy extendPolicy, Duration blockStatsInterval, IssuerPolicy issuerPolicy,
                           Path qmpDirectory, TimeToFull timeToFull, Path watchdogDirectory, TransferEndpoint transfers) {
    public static final Pattern HOST_ID = Topics.HOST_ID;

    /** oVirt reads highest offsets every 2 s. */
    public static final Duration DEFAULT_BLOCK_STATS_INTERVAL = Duration.ofSeconds(2);

    public WorkerConfig {
        Objects.requireNonNull(kafka, "kafka");
        Objects.requireNonNull(spmKafka, "spmKafka");
        Objects.requireNonNull(zooKeeper, "zooKeeper");
        Objects.requireNonNull(extendPolicy, "extendPolicy");
        Objects.requireNonNull(issuerPolicy, "issuerPolicy");
        Objects.requireNonNull(qmpDirectory, "qmpDirectory");
        Objects.requireNonNull(timeToFull, "timeToFull");
        Objects.requireNonNull(transfers, "transfers");
        if (blockStatsInterval == null || blockStatsInterval.isNegative() || blockStatsInterval.isZero()) {
            throw new IllegalArgumentException("blockStatsInterval must be positive, not " + blockStatsInterval);
        }
        if (hostId == null || !HOST_ID.matcher(hostId).matches()) {
            throw new IllegalArgumentException("invalid host id '" + hostId + "': " + HOST_ID.pattern());
        }
        if (pool == null || !Topics.POOL_NAME.matcher(pool).matches()) {
            throw new IllegalArgumentException("invalid pool '" + pool + "': " + Topics.POOL_NAME.pattern());
        }
    }

    /** Plain Kafka and ZooKeeper, one identity, unsigned commands, QMP sockets in the temporary directory: tests, benchmarks, the dev mode. */
    public static WorkerConfig of(String hostId, String pool, String bootstrapServers, String zkConnect) {
        KafkaConnection kafka = KafkaConnection.plaintext(bootstrapServers);
        return new WorkerConfig(hostId, pool, kafka, kafka, ZooKeeperAccess.of(zkConnect, 6000), (short) 1, ExtendPolicy.OVIRT,
                DEFAULT_BLOCK_STATS_INTERVAL, IssuerPolicy.unsigned(), Path.of(System.getProperty("java.io.tmpdir")), TimeToFull.DEFAULT, null,
                TransferEndpoint.loopback(hostId));
    }

    public WorkerConfig withExtendPolicy(ExtendPolicy policy, Duration blockStats) {
        return new WorkerConfig(hostId, pool, kafka, spmKafka, zooKeeper, topicReplication, policy, blockStats, issuerPolicy,
                qmpDirectory, timeToFull, watchdogDirectory, transfers);
    }

    public WorkerConfig withTimeToFull(TimeToFull alerts) {
        return new WorkerConfig(hostId, pool, kafka, spmKafka, zooKeeper, topicReplication, extendPolicy, blockStatsInterval, issuerPolicy,
                qmpDirectory, alerts, watchdogDirectory, transfers);
    }

    public WorkerConfig withZooKeeper(ZooKeeperAccess access) {
        return new WorkerConfig(hostId, pool, kafka, spmKafka, access, topicReplication, extendPolicy, blockStatsInterval, issuerPolicy,
                qmpDirectory, timeToFull, watchdogDirectory, transfers);
    }

    /** Reaches Kafka as {@code host} for the host's own work, and as {@code spm} while this host is the pool's SPM. */
    public WorkerConfig withKafka(KafkaConnection host, KafkaConnection spm) {
        return new WorkerConfig(hostId, pool, host, spm, zooKeeper, topicReplication, extendPolicy, blockStatsInterval, issuerPolicy,
                qmpDirectory, timeToFull, watchdogDirectory, transfers);
    }

    public WorkerConfig withIssuerPolicy(IssuerPolicy policy) {
        return new WorkerConfig(hostId, pool, kafka, spmKafka, zooKeeper, topicReplication, extendPolicy, blockStatsInterval, policy,
                qmpDirectory, timeToFull, watchdogDirectory, transfers);
    }

    public WorkerConfig withQmpDirectory(Path directory) {
        return new WorkerConfig(hostId, pool, kafka, spmKafka, zooKeeper, topicReplication, extendPolicy, blockStatsInterval, issuerPolicy,
                directory, timeToFull, watchdogDirectory, transfers);
    }

    /** Feeds the lease watchdog in {@code directory} (see {@code LeaseWatchdog}). */
    public WorkerConfig withWatchdogDirectory(Path directory) {
        return new WorkerConfig(hostId, pool, kafka, spmKafka, zooKeeper, topicReplication, extendPolicy, blockStatsInterval, issuerPolicy,
                qmpDirectory, timeToFull, directory, transfers);
    }

    /** Serves image transfers at {@code endpoint} (see {@code TransferServer}). */
    public WorkerConfig withTransfers(TransferEndpoint endpoint) {
        return new WorkerConfig(hostId, pool, kafka, spmKafka, zooKeeper, topicReplication, extendPolicy, blockStatsInterval, issuerPolicy,
                qmpDirectory, timeToFull, watchdogDirectory, endpoint);
    }

    public String issuer() {
        return "host:" + hostId;
    }
}
