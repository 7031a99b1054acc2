package io.storagebus.manager;

import io.storagebus.bus.Topics;

/**
 * What a manager needs to run.
 *
 * @param httpPort 0 picks a free port
 * @param defaultPool pool of domains created without one
 */
public record ManagerConfig(String managerId, String bootstrapServers, String zkConnect, String httpHost, int httpPort,
                            String defaultPool, short topicReplication) {

    public ManagerConfig {
        if (!Topics.POOL_NAME.matcher(defaultPool).matches()) {
            throw new IllegalArgumentException("invalid default pool '" + defaultPool + "': " + Topics.POOL_NAME.pattern());
        }
    }

    public static ManagerConfig of(String bootstrapServers, String zkConnect, int httpPort) {
        return new ManagerConfig("manager-1", bootstrapServers, zkConnect, "127.0.0.1", httpPort, "default", (short) 1);
    }
}
