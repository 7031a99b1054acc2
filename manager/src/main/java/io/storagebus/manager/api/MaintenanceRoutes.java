package io.storagebus.manager.api;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import io.storagebus.driver.DriverRegistry;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.maintenance.MaintenanceCoordinator.Snapshot;
import io.storagebus.manager.maintenance.SubscriberRegistry;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.CastVote;
import io.storagebus.schema.DrainMove;
import io.storagebus.schema.MaintenanceState;
import io.storagebus.schema.MaintenanceStatus;
import io.storagebus.schema.MaintenanceVoter;
import io.storagebus.schema.TaskState;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/** Maintenance of a domain (request with or without a drain, status, cancel, activate) and the subscribers that vote on it. */
final class MaintenanceRoutes {
    static final long DEFAULT_DEADLINE_SECONDS = 60;
    static final long MAX_DEADLINE_SECONDS = 86_400;
    static final int MAX_REASON_LENGTH = 1000;

    private final ActiveRole role;
    private final StateView view;
    private final SubscriberRegistry subscribers;
    private final DriverRegistry drivers;

    MaintenanceRoutes(ActiveRole role, StateView view, SubscriberRegistry subscribers, DriverRegistry drivers) {
        this.role = role;
        this.view = view;
        this.subscribers = subscribers;
        this.drivers = drivers;
    }

    void register(Router router) {
        router.post("/api/v1/domains/:id/maintenance").handler(this::request);
        router.get("/api/v1/domains/:id/maintenance").handler(ctx -> Answers.ok(ctx, 200, json(current(ctx.pathParam("id"))
                .orElseThrow(() -> ApiError.notFound("NO_MAINTENANCE_REQUEST", "domain " + ctx.pathParam("id") + " has no maintenance request")))));
        router.delete("/api/v1/domains/:id/maintenance").handler(ctx -> role.maintenance().cancel(ctx.pathParam("id"))
                .onSuccess(s -> Answers.ok(ctx, 200, json(s))).onFailure(ctx::fail));
        router.post("/api/v1/domains/:id/activate").handler(ctx -> role.maintenance().activate(ctx.pathParam("id"))
                .onSuccess(d -> Answers.ok(ctx, 200, Views.domain(d, drivers.find(d.getDriver()).orElse(null)))).onFailure(ctx::fail));
        router.get("/api/v1/subscribers").handler(this::listSubscribers);
    }

    /** The active manager's live view of the request; a standby shows what the state topic says. */
    private Optional<Snapshot> current(String domainId) {
        return role.maintenanceIfActive().map(m -> m.current(domainId))
                .orElseGet(() -> view.maintenance(domainId).map(s -> new Snapshot(s, Map.of())));
    }

    private void request(RoutingContext ctx) {
        RequestBody body = RequestBody.of(ctx, Set.of("reason", "deadlineSeconds", "drain"));
        String reason = body.requiredString("reason").strip();
        if (reason.isEmpty() || reason.length() > MAX_REASON_LENGTH) {
            throw ApiError.badField("reason", "INVALID_VALUE", "reason must say why, in 1.." + MAX_REASON_LENGTH + " characters");
        }
        long seconds = body.has("deadlineSeconds") ? body.requiredLong("deadlineSeconds") : DEFAULT_DEADLINE_SECONDS;
        if (seconds < 1 || seconds > MAX_DEADLINE_SECONDS) {
            throw ApiError.badField("deadlineSeconds", "OUT_OF_RANGE", "deadlineSeconds must be within 1.." + MAX_DEADLINE_SECONDS + ", got " + seconds);
        }
        String drainTarget = body.has("drain") ? body.object("drain", Set.of("targetDomainId")).requiredString("targetDomainId") : null;
        String domainId = ctx.pathParam("id");
        role.maintenance().request(domainId, reason, Duration.ofSeconds(seconds), drainTarget)
                .onSuccess(s -> {
                    ctx.response().putHeader("Location", "/api/v1/domains/" + domainId + "/maintenance");
                    Answers.ok(ctx, 202, json(s));
                })
                .onFailure(ctx::fail);
    }

    /** The drain's target and each volume's move as its task says: status, bytes, error. */
    private JsonObject drain(MaintenanceState s) {
        JsonArray moves = new JsonArray();
        int moved = 0;
        for (DrainMove move : s.getMoves()) {
            JsonObject json = new JsonObject().put("volumeId", move.getVolumeId()).put("taskId", move.getTaskId());
            view.volume(move.getVolumeId()).ifPresent(v -> json.put("name", v.getName()));
            Optional<TaskState> task = view.task(move.getTaskId());
            json.put("status", task.map(t -> t.getStatus().name()).orElse("PENDING"));
            task.ifPresent(t -> Views.progress(t, json));
            moved += "SUCCEEDED".equals(json.getString("status")) ? 1 : 0;
            moves.add(json);
        }
        return new JsonObject().put("targetDomainId", s.getDrainTargetDomainId()).put("moved", moved).put("total", moves.size())
                .put("moves", moves);
    }

    private void listSubscribers(RoutingContext ctx) {
        Instant now = Instant.now();
        JsonArray list = new JsonArray();
        subscribers.all().forEach(s -> list.add(new JsonObject().put("id", s.id()).put("description", s.description())
                .put("silence", s.silence().name()).put("heartbeatIntervalMs", s.heartbeatIntervalMs())
                .put("lastHeartbeat", s.lastHeartbeat().toString()).put("alive", s.alive(now))));
        subscribers.refused().forEach(r -> list.add(new JsonObject().put("id", r.key()).put("alive", false)
                .put("refused", r.reason()).put("lastHeartbeat", r.at().toString())));
        Answers.ok(ctx, 200, list);
    }

    /** Every voter with its vote (or none yet), the ones still silent, a drain's moves, and the hosts' progress. */
    private JsonObject json(Snapshot snapshot) {
        MaintenanceState s = snapshot.state();
        Map<String, CastVote> votes = new HashMap<>();
        s.getVotes().forEach(v -> votes.put(v.getSubscriberId(), v));
        JsonArray voters = new JsonArray();
        // While the vote is open, "silent" is who has not voted yet. Once decided it is who was counted
        // by their silence policy; who had not voted when a veto or a cancellation ended it was not counted.
        boolean open = s.getStatus() == MaintenanceStatus.VOTING;
        JsonArray silent = new JsonArray();
        JsonArray notCounted = new JsonArray();
        for (MaintenanceVoter voter : s.getVoters()) {
            JsonObject json = new JsonObject().put("subscriberId", voter.getSubscriberId()).put("description", voter.getDescription())
                    .put("silence", voter.getSilence().name());
            CastVote vote = votes.get(voter.getSubscriberId());
            if (vote == null) {
                (open ? silent : notCounted).add(voter.getSubscriberId());
            } else {
                if (vote.getSilent()) {
                    silent.add(voter.getSubscriberId());
                }
                json.put("vote", vote.getDecision().name()).put("reason", vote.getReason()).put("silent", vote.getSilent())
                        .put("at", vote.getAt().toString());
            }
            voters.add(json);
        }
        JsonObject json = new JsonObject()
                .put("requestId", s.getRequestId())
                .put("domainId", s.getDomainId())
                .put("status", s.getStatus().name())
                .put("reason", s.getReason())
                .put("deadline", s.getDeadline().toString())
                .put("createdAt", s.getCreatedAt().toString())
                .put("voters", voters)
                .put("silent", silent)
                .put("notCounted", notCounted)
                .put("hostsPending", new JsonArray(s.getHostsPending()))
                .put("hostsDisconnected", new JsonArray(s.getHostsDisconnected()));
        if (s.getDecidedAt() != null) {
            json.put("decidedAt", s.getDecidedAt().toString());
        }
        if (s.getDrainTargetDomainId() != null) {
            json.put("drain", drain(s));
        }
        if (!snapshot.hostFailures().isEmpty()) {
            json.put("hostFailures", new JsonObject(new HashMap<>(snapshot.hostFailures())));
        }
        return json;
    }
}
