package io.storagebus.manager.bus;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import io.storagebus.bus.Topics;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.apache.kafka.clients.admin.Admin;

/** Makes sure a pool's SPM command topic exists before the first command is sent to it. */
public final class PoolTopics {
    private final Vertx vertx;
    private final Admin admin;
    private final short replication;
    private final Set<String> ensured = ConcurrentHashMap.newKeySet();

    public PoolTopics(Vertx vertx, Admin admin, short replication) {
        this.vertx = vertx;
        this.admin = admin;
        this.replication = replication;
    }

    public Future<Void> ensure(String pool) {
        if (ensured.contains(pool)) {
            return Future.succeededFuture();
        }
        return vertx.executeBlocking(() -> {
            Topics.ensure(admin, Topics.poolTopics(pool, replication));
            ensured.add(pool);
            return null;
        }, false);
    }
}
