package io.storagebus.worker;

import java.util.Objects;
import java.util.regex.Pattern;

import io.storagebus.bus.Topics;

/**
 * What a host worker needs to run.
 *
 * @param zkSessionTimeoutMs how long ZooKeeper waits before it declares this host gone: the
 *        floor of SPM failover after a crash
 * @param topicReplication replication factor of topics this worker creates if they are missing
 */
public record WorkerConfig(String hostId, String pool, String bootstrapServers, String zkConnect,
                           int zkSessionTimeoutMs, short topicReplication) {
    public static final Pattern HOST_ID = Topics.HOST_ID;

    public WorkerConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(zkConnect, "zkConnect");
        if (hostId == null || !HOST_ID.matcher(hostId).matches()) {
            throw new IllegalArgumentException("invalid host id '" + hostId + "': " + HOST_ID.pattern());
        }
        if (pool == null || !Topics.POOL_NAME.matcher(pool).matches()) {
            throw new IllegalArgumentException("invalid pool '" + pool + "': " + Topics.POOL_NAME.pattern());
        }
    }

    public static WorkerConfig of(String hostId, String pool, String bootstrapServers, String zkConnect) {
        return new WorkerConfig(hostId, pool, bootstrapServers, zkConnect, 6000, (short) 1);
    }

    public String issuer() {
        return "host:" + hostId;
    }
}
