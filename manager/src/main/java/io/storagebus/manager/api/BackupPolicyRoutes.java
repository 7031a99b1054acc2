package io.storagebus.manager.api;

import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Topics;
import io.storagebus.manager.backup.BackupPlan;
import io.storagebus.manager.backup.BackupScheduler;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * A volume's backup policy: every {@code every}, a snapshot backed up to an object-store domain
 * (incremental, full every {@code fullEvery}-th time), and retention of those backups by count
 * and age. The policy is state; the {@link BackupScheduler} of the active manager carries it out
 * with the same requests these routes' neighbours serve, which {@link #scheduledRequests} makes.
 */
final class BackupPolicyRoutes {
    /** Shortest interval: a floor against a typo flooding the pool with snapshots. */
    static final Duration MIN_INTERVAL = Duration.ofSeconds(10);
    private static final Duration MAX_DURATION = Duration.ofDays(3650);

    private final RestApi api;
    private final StateView view;
    private final ActiveRole role;
    private final VolumeChainRoutes chain;
    private final BackupRoutes backups;

    BackupPolicyRoutes(RestApi api, StateView view, ActiveRole role, VolumeChainRoutes chain, BackupRoutes backups) {
        this.api = api;
        this.view = view;
        this.role = role;
        this.chain = chain;
        this.backups = backups;
    }

    void register(Router router) {
        router.put("/api/v1/volumes/:id/backup-policy").handler(this::put);
        router.get("/api/v1/volumes/:id/backup-policy").handler(ctx -> RestApi.ok(ctx, 200, json(policyOrThrow(ctx.pathParam("id")))));
        router.delete("/api/v1/volumes/:id/backup-policy").handler(this::delete);
        router.get("/api/v1/backup-policies").handler(ctx -> RestApi.ok(ctx, 200, new JsonArray(view.backupPolicies().stream()
                .sorted(Comparator.comparing(BackupPolicy::getCreatedAt)).map(this::json).toList())));
    }

    /** Sets (or replaces) the policy; answers 200 with it once the state view has it, so a GET right after reads it. */
    private void put(RoutingContext ctx) {
        VolumeState volume = api.volumeOrThrow(ctx.pathParam("id"));
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "every", "fullEvery", "keepLast", "keepFor"));
        String targetId = body.requiredString("targetDomainId");
        if (!body.has("every")) {
            throw ApiError.badField("every", "REQUIRED", "every is required: how often to back up, e.g. PT6H or P1D");
        }
        Duration every = body.optionalDuration("every", MIN_INTERVAL, MAX_DURATION);
        int fullEvery = body.optionalInt("fullEvery", 7, 1, 1000);
        int keepLast = body.optionalInt("keepLast", 7, 1, 10000);
        Duration keepFor = body.optionalDuration("keepFor", Duration.ofSeconds(1), MAX_DURATION);
        if (volume.getStatus() == VolumeStatus.DELETING || volume.getStatus() == VolumeStatus.FAILED) {
            throw ApiError.conflict("VOLUME_NOT_READY", "volume '" + volume.getName() + "' is " + volume.getStatus(), null);
        }
        DomainState domain = api.domainOrThrow(volume.getDomainId());
        chain.requireSnapshots(domain, volume);
        DomainState target = backups.backupDomain(targetId);
        RestApi.requireSamePool(target, "backup domain", domain, "volume");
        Instant createdAt = view.backupPolicy(volume.getId()).map(BackupPolicy::getCreatedAt).orElse(Instant.now());
        BackupPolicy policy = BackupPolicy.newBuilder().setEnvelope(api.origin(ctx, domain.getEnvelope().getPool(), UUID.randomUUID().toString()))
                .setVolumeId(volume.getId()).setTargetDomainId(target.getId()).setIntervalSeconds(every.toSeconds()).setFullEvery(fullEvery)
                .setKeepLast(keepLast).setKeepForSeconds(keepFor == null ? null : keepFor.toSeconds()).setCreatedAt(createdAt).build();
        publishAndSync(new Outgoing(Topics.BACKUP_POLICY_STATE, volume.getId(), policy))
                .onSuccess(v -> RestApi.ok(ctx, 200, json(policy)))
                .onFailure(ctx::fail);
    }

    /** Stops the schedule; the backups it made stay, and so does its newest snapshot, until deleted. */
    private void delete(RoutingContext ctx) {
        BackupPolicy policy = policyOrThrow(ctx.pathParam("id"));
        publishAndSync(new Outgoing(Topics.BACKUP_POLICY_STATE, policy.getVolumeId(), null))
                .onSuccess(v -> ctx.response().setStatusCode(204).end())
                .onFailure(ctx::fail);
    }

    private Future<Void> publishAndSync(Outgoing record) {
        return role.bus().publish(List.of(record)).compose(v -> Future.fromCompletionStage(view.sync()));
    }

    private BackupPolicy policyOrThrow(String volumeId) {
        return view.backupPolicy(volumeId).orElseThrow(() -> ApiError.notFound("BACKUP_POLICY_NOT_FOUND",
                "volume '" + volumeId + "' has no backup policy"));
    }

    private JsonObject json(BackupPolicy p) {
        VolumeState volume = view.volume(p.getVolumeId()).orElse(null);
        List<BackupState> made = view.backups().stream().filter(b -> b.getVolumeId().equals(p.getVolumeId())).toList();
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

    /** The requests a policy makes, issued as {@code manager:<id>:backup-policy}. */
    BackupScheduler.Actions scheduledRequests(String managerId) {
        RestApi.Origin origin = (pool, correlationId) -> Envelopes.origin(pool, "manager:" + managerId + ":backup-policy", correlationId);
        return new BackupScheduler.Actions() {
            @Override
            public Future<JsonObject> snapshot(VolumeState volume, String name) {
                return chain.snapshot(volume, name, origin);
            }

            @Override
            public Future<JsonObject> backup(VolumeState volume, String targetDomainId, String snapshotId, boolean incremental) {
                return backups.backup(volume, targetDomainId, snapshotId, incremental, true, origin);
            }

            @Override
            public Future<JsonObject> deleteSnapshot(VolumeState volume, String snapshotId) {
                return chain.deleteSnapshot(volume, snapshotId, origin);
            }

            @Override
            public Future<JsonObject> deleteBackup(BackupState backup) {
                return backups.delete(backup, "retention", origin);
            }

            @Override
            public Future<Void> removePolicy(String volumeId) {
                return role.bus().publish(List.of(new Outgoing(Topics.BACKUP_POLICY_STATE, volumeId, null)));
            }
        };
    }
}
