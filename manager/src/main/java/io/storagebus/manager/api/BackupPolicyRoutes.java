package io.storagebus.manager.api;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;

import io.storagebus.manager.backup.BackupPlan;
import io.storagebus.manager.requests.BackupPolicyRequests;
import io.storagebus.manager.requests.Resources;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.VolumeState;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/** A volume's backup policy: set, read, removed; the active manager's schedule carries it out. */
record BackupPolicyRoutes(BackupPolicyRequests policies, Resources resources, String issuer) {
    /** Shortest interval: a floor against a typo flooding the pool with snapshots. */
    static final Duration MIN_INTERVAL = Duration.ofSeconds(10);
    private static final Duration MAX_DURATION = Duration.ofDays(3650);

    void register(Router router) {
        router.put("/api/v1/volumes/:id/backup-policy").handler(this::put);
        router.get("/api/v1/volumes/:id/backup-policy").handler(ctx -> Answers.ok(ctx, 200, json(policies.policy(ctx.pathParam("id")))));
        router.delete("/api/v1/volumes/:id/backup-policy").handler(ctx -> policies.delete(ctx.pathParam("id"))
                .onSuccess(v -> ctx.response().setStatusCode(204).end())
                .onFailure(ctx::fail));
        router.get("/api/v1/backup-policies").handler(ctx -> Answers.page(ctx,
                (cursor, limit) -> resources.view().backupPolicies(cursor, limit), this::json));
    }

    /** Answers 200 with the policy once the state view has it, so a GET right after reads it. */
    private void put(RoutingContext ctx) {
        resources.volume(ctx.pathParam("id"));
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "every", "fullEvery", "keepLast", "keepFor"));
        String targetId = body.requiredString("targetDomainId");
        if (!body.has("every")) {
            throw ApiError.badField("every", "REQUIRED", "every is required: how often to back up, e.g. PT6H or P1D");
        }
        BackupPolicyRequests.Policy request = new BackupPolicyRequests.Policy(ctx.pathParam("id"), targetId,
                body.optionalDuration("every", MIN_INTERVAL, MAX_DURATION), body.optionalInt("fullEvery", 7, 1, 1000),
                body.optionalInt("keepLast", 7, 1, 10000), body.optionalDuration("keepFor", Duration.ofSeconds(1), MAX_DURATION));
        policies.put(request, Answers.origin(ctx, issuer))
                .onSuccess(policy -> Answers.ok(ctx, 200, json(policy)))
                .onFailure(ctx::fail);
    }

    private JsonObject json(BackupPolicy p) {
        VolumeState volume = resources.view().volume(p.getVolumeId()).orElse(null);
        List<BackupState> made = resources.view().backupsOf(p.getVolumeId());
        Instant lastRun = BackupPlan.lastRun(volume, made);
        return new JsonObject()
                .put("volumeId", p.getVolumeId())
                .put("targetDomainId", p.getTargetDomainId())
                .put("every", Duration.ofSeconds(p.getIntervalSeconds()).toString())
                .put("fullEvery", p.getFullEvery())
                .put("keepLast", p.getKeepLast())
                .put("keepFor", p.getKeepForSeconds() == null ? null : Duration.ofSeconds(p.getKeepForSeconds()).toString())
                .put("createdAt", p.getCreatedAt().toString())
                .put("lastRunAt", lastRun == null ? null : lastRun.toString())
                .put("nextRunAt", (lastRun == null ? Instant.now() : lastRun.plusSeconds(p.getIntervalSeconds())).toString());
    }
}
