package io.storagebus.manager;

import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import io.storagebus.leases.SpmDirectory;
import io.storagebus.leases.SpmTerm;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.ha.ManagerElection;
import io.storagebus.manager.state.StateHistory;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.DomainState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.apache.curator.framework.CuratorFramework;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * UP when the manager can serve: Kafka answers, its state view is current, ZooKeeper is
 * connected, and every pool in use (the default pool and those of existing domains) has an SPM.
 * A standby is UP too: it serves reads. The body says which role this manager has and which
 * manager is active.
 */
public final class HealthCheck {
    private final Vertx vertx;
    private final Admin admin;
    private final CuratorFramework zk;
    private final StateView view;
    private final SpmDirectory spms;
    private final String defaultPool;
    private final ActiveRole role;
    private final StateHistory history;

    public HealthCheck(Vertx vertx, Admin admin, CuratorFramework zk, StateView view, SpmDirectory spms, String defaultPool, ActiveRole role,
                       StateHistory history) {
        this.role = role;
        this.history = history;
        this.vertx = vertx;
        this.admin = admin;
        this.zk = zk;
        this.view = view;
        this.spms = spms;
        this.defaultPool = defaultPool;
    }

    public Future<JsonObject> check() {
        return vertx.executeBlocking(this::kafkaUp, false).map(kafkaUp -> {
            boolean zkUp = zk.getZookeeperClient().isConnected();
            boolean stateUp = view.isCaughtUp();
            Set<String> pools = new TreeSet<>();
            pools.add(defaultPool);
            view.domains().stream().map(DomainState::getEnvelope).forEach(e -> pools.add(e.getPool()));
            JsonObject spm = new JsonObject();
            boolean spmUp = true;
            for (String pool : pools) {
                SpmTerm term = spms.spmOf(pool).orElse(null);
                spmUp &= term != null;
                spm.put(pool, term == null ? null
                        : new JsonObject().put("host", term.hostId()).put("epoch", term.epoch()).put("since", term.since().toString()));
            }
            boolean up = kafkaUp && zkUp && stateUp && spmUp;
            String lost = history.lost();
            // DEGRADED: everything answers, but Kafka lost state ZooKeeper remembers; what is shown is not all there was.
            JsonObject json = new JsonObject()
                    .put("status", !up ? "DOWN" : lost != null ? "DEGRADED" : "UP")
                    .put("kafka", kafkaUp ? "UP" : "DOWN")
                    .put("zookeeper", zkUp ? "UP" : "DOWN")
                    .put("state", stateUp ? "UP" : "LOADING")
                    .put("spm", spm)
                    .put("role", role.isActive() ? "ACTIVE" : "STANDBY")
                    .put("activeManager", role.activeManager().map(c -> new JsonObject().put("id", c.managerId()).put("url", c.url()))
                            .orElse(null))
                    .put("managers", managers());
            if (lost != null) {
                json.put("stateLost", lost + "; see docs/OPERATIONS.md, 'Kafka lost the state'");
            }
            return json;
        });
    }

    /** The managers in the election as ZooKeeper lists them: the active one, then the standbys in the order they would take over. */
    private JsonArray managers() {
        var leader = role.activeManager().map(ManagerElection.Candidate::managerId).orElse(null);
        var json = new JsonArray();
        role.managers().forEach(c -> json.add(new JsonObject().put("id", c.managerId()).put("url", c.url())
                .put("role", c.managerId().equals(leader) ? "ACTIVE" : "STANDBY")));
        return json;
    }

    private boolean kafkaUp() {
        try {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs(2000)).clusterId().get(3, TimeUnit.SECONDS);
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
