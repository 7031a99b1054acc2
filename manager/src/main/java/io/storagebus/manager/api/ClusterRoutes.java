package io.storagebus.manager.api;

import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.storagebus.bus.Topics;
import io.storagebus.leases.HostDirectory;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.leases.SpmDirectory;
import io.storagebus.leases.SpmElection;
import io.storagebus.leases.SpmTerm;
import io.storagebus.leases.VolumeLease;
import io.storagebus.manager.state.Page;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import org.apache.curator.framework.CuratorFramework;

/** Pools and hosts: who is SPM, a clean hand-over of the role, and the registered hosts. */
final class ClusterRoutes {
    /** A clean hand-over takes well under a second; past this the answer says it did not happen. */
    static final long HANDOVER_TIMEOUT_SECONDS = 10;

    private final Vertx vertx;
    private final CuratorFramework zk;
    private final SpmDirectory spms;
    private final HostDirectory hosts;
    private final LeaseDirectory leases;

    ClusterRoutes(Vertx vertx, CuratorFramework zk, SpmDirectory spms, HostDirectory hosts, LeaseDirectory leases) {
        this.vertx = vertx;
        this.zk = zk;
        this.spms = spms;
        this.hosts = hosts;
        this.leases = leases;
    }

    void register(Router router) {
        router.get("/api/v1/pools/:pool/spm").handler(ctx -> Answers.ok(ctx, 200, termJson(currentTerm(ctx))));
        router.post("/api/v1/pools/:pool/spm/release").handler(this::release);
        router.get("/api/v1/hosts").handler(this::listHosts);
    }

    private SpmTerm currentTerm(RoutingContext ctx) {
        String pool = ctx.pathParam("pool");
        if (!Topics.POOL_NAME.matcher(pool).matches()) {
            throw ApiError.notFound("POOL_NOT_FOUND", "no pool named '" + pool + "'");
        }
        return spms.spmOf(pool).orElseThrow(() -> new ApiError(404, "NO_SPM",
                "pool '" + pool + "' has no SPM now: no host of the pool is connected, or an election is under way", null, List.of()));
    }

    /**
     * Asks the current SPM to hand the role over and answers once the next term has started,
     * which the SPM directory learns from a ZooKeeper watch.
     */
    private void release(RoutingContext ctx) {
        if (ctx.body().length() > 0) {
            RequestBody.of(ctx, java.util.Set.of()); // it takes no fields: a body is at least well formed and empty
        }
        SpmTerm released = currentTerm(ctx);
        long started = System.nanoTime();
        vertx.executeBlocking(() -> {
            SpmElection.requestRelease(zk, released.pool(), released.epoch());
            return null;
        }, false)
                .compose(v -> Future.fromCompletionStage(spms.nextTerm(released.pool(), released.epoch())
                        .orTimeout(HANDOVER_TIMEOUT_SECONDS, TimeUnit.SECONDS), vertx.getOrCreateContext()))
                .onSuccess(next -> Answers.ok(ctx, 200, new JsonObject()
                        .put("pool", released.pool())
                        .put("released", termJson(released))
                        .put("spm", termJson(next))
                        .put("handOverMillis", (System.nanoTime() - started) / 1_000_000)))
                .onFailure(e -> ctx.fail(e instanceof TimeoutException
                        ? new ApiError(504, "HANDOVER_TIMEOUT", "no new SPM term within " + HANDOVER_TIMEOUT_SECONDS
                                + " s; the release request stays until the holder of epoch " + released.epoch() + " sees it", null, List.of())
                        : e));
    }

    /** The registered hosts by id, a page at a time. */
    private void listHosts(RoutingContext ctx) {
        Answers.pageWith(ctx, (cursor, limit) -> Page.ofIds(hosts.byId(), cursor, limit), page -> {
            Map<String, List<VolumeLease>> held = leases.heldBy(page.stream().map(HostDirectory.Host::hostId).toList());
            return host -> hostJson(host, held.getOrDefault(host.hostId(), List.of()));
        });
    }

    private JsonObject hostJson(HostDirectory.Host host, List<VolumeLease> held) {
        SpmTerm term = spms.spmOf(host.pool()).filter(t -> t.hostId().equals(host.hostId())).orElse(null);
        return new JsonObject()
                .put("hostId", host.hostId())
                .put("pool", host.pool())
                .put("since", host.since().toString())
                .put("session", Long.toHexString(host.sessionId()))
                .put("spm", term == null ? null : termJson(term))
                .put("leases", new JsonArray(held.stream().map(ClusterRoutes::leaseJson).toList()));
    }

    /** A lease, with where its volume is usable and its allocation once the holder has said. */
    static JsonObject leaseJson(VolumeLease lease) {
        JsonObject json = new JsonObject().put("volumeId", lease.volumeId()).put("host", lease.hostId()).put("epoch", lease.epoch())
                .put("since", lease.since().toString());
        if (lease.path() != null) {
            json.put("path", lease.path());
        }
        if (lease.allocatedBytes() >= 0) {
            json.put("allocatedBytes", lease.allocatedBytes());
        }
        if (lease.lastExtendedAt() != null) {
            json.put("lastExtendedAt", lease.lastExtendedAt().toString());
        }
        return json;
    }

    static JsonObject termJson(SpmTerm term) {
        return new JsonObject().put("pool", term.pool()).put("host", term.hostId()).put("epoch", term.epoch())
                .put("since", term.since().toString());
    }
}
