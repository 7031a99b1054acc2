package io.storagebus.manager.api;

import io.storagebus.bus.TaskType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import io.storagebus.bus.Topics;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.BackupLayer;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.BackupStatus;
import io.storagebus.schema.BackupVolume;
import io.storagebus.schema.DeleteBackup;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.RestoreBackup;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * Backups of snapshots to a backup domain (an object store), their listing, deletion and
 * restore into any domain of the pool. A backup is full, or incremental: only the snapshot's own
 * layer, restored on top of the backup of its parent snapshot.
 */
final class BackupRoutes {
    private final RestApi api;
    private final StateView view;
    private final DriverRegistry drivers;

    BackupRoutes(RestApi api, StateView view, DriverRegistry drivers) {
        this.api = api;
        this.view = view;
        this.drivers = drivers;
    }

    void register(Router router) {
        router.post("/api/v1/volumes/:id/backups").handler(this::backup);
        // Backups outlive their volume (that is what they are for): listed by volume id even once it is deleted.
        router.get("/api/v1/volumes/:id/backups").handler(ctx -> list(ctx, ctx.pathParam("id")));
        router.get("/api/v1/backups").handler(ctx -> list(ctx, ctx.request().getParam("volumeId")));
        router.get("/api/v1/backups/:id").handler(ctx -> RestApi.ok(ctx, 200, Views.backup(backupOrThrow(ctx.pathParam("id")))));
        router.delete("/api/v1/backups/:id").handler(this::delete);
        router.post("/api/v1/backups/:id/restore").handler(this::restore);
    }

    private void list(RoutingContext ctx, String volumeId) {
        RestApi.ok(ctx, 200, new JsonArray(view.backups().stream().filter(b -> volumeId == null || b.getVolumeId().equals(volumeId))
                .sorted(Comparator.comparing(BackupState::getCreatedAt)).map(Views::backup).toList()));
    }

    private void backup(RoutingContext ctx) {
        VolumeState volume = api.volumeOrThrow(ctx.pathParam("id"));
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "snapshotId", "incremental"));
        RestApi.accepted(ctx, backup(volume, body.requiredString("targetDomainId"), body.optionalString("snapshotId", null),
                body.optionalBoolean("incremental", false), false, api.origin(ctx)));
    }

    /**
     * Backs up a snapshot (the newest if none is named). Incremental: only the snapshot's layer,
     * which needs a complete backup of its parent snapshot in the same backup domain.
     */
    Future<JsonObject> backup(VolumeState volume, String targetDomainId, String snapshotId, boolean incremental, boolean scheduled,
                              RestApi.Origin origin) {
        DomainState target = backupDomain(targetDomainId);
        List<SnapshotRef> ready = volume.getSnapshots().stream().filter(s -> "READY".equals(s.getStatus())).toList();
        SnapshotRef snapshot = snapshotId == null
                ? ready.stream().reduce((a, b) -> b).orElseThrow(() -> ApiError.conflict("NO_SNAPSHOT", "volume '" + volume.getName()
                        + "' has no snapshot to back up; take one first (POST /api/v1/volumes/" + volume.getId() + "/snapshots)", null))
                : ready.stream().filter(s -> s.getSnapshotId().equals(snapshotId)).findFirst().orElseThrow(() -> ApiError.badField(
                        "snapshotId", "SNAPSHOT_NOT_FOUND", "volume '" + volume.getName() + "' has no READY snapshot '" + snapshotId + "'"));
        BackupState base = null;
        if (incremental) {
            base = baseFor(volume, snapshot, target).orElseThrow(() -> ApiError.conflict("NO_BASE_BACKUP", "an incremental backup of snapshot '"
                    + snapshot.getName() + "' needs a complete backup of its parent snapshot in domain '" + target.getName()
                    + "'; back it up whole first", "incremental"));
        }
        DomainState source = api.usable(api.domainOrThrow(volume.getDomainId()), null);
        RestApi.requireSamePool(target, "backup domain", source, "volume");
        List<String> chain = new ArrayList<>();
        if (base != null) {
            chain.addAll(base.getChain());
            chain.add(base.getBackupId());
        }
        String taskId = UUID.randomUUID().toString();
        String backupId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(source.getEnvelope().getPool(), taskId);
        BackupVolume command = BackupVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setBackupId(backupId)
                .setVolumeId(volume.getId()).setVolumeName(volume.getName()).setSource(RestApi.domainRef(source))
                .setSnapshotId(snapshot.getSnapshotId()).setTarget(RestApi.domainRef(target)).setVirtualSize(volume.getVirtualSize())
                .setBaseBackupId(base == null ? null : base.getBackupId()).setBaseSnapshotId(base == null ? null : base.getSnapshotId())
                .setChain(chain).setScheduled(scheduled).build();
        BackupState running = BackupState.newBuilder().setEnvelope(envelope).setBackupId(backupId).setTaskId(taskId)
                .setVolumeId(volume.getId()).setVolumeName(volume.getName()).setDomainId(source.getId()).setTargetDomainId(target.getId())
                .setSnapshotId(snapshot.getSnapshotId()).setVirtualSize(volume.getVirtualSize()).setBaseBackupId(command.getBaseBackupId())
                .setChain(chain).setStatus(BackupStatus.RUNNING).setCreatedAt(envelope.getTimestamp()).setScheduled(scheduled).build();
        return api.submitTask(TaskType.BACKUP_VOLUME, source.getId(), volume.getId(), command,
                new JsonObject().put("backupId", backupId).put("snapshotId", snapshot.getSnapshotId())
                        .put("kind", base == null ? "FULL" : "INCREMENTAL"),
                List.of(new Outgoing(Topics.BACKUP_STATE, backupId, running)), List.of());
    }

    /** The newest complete backup, in the target domain, of the snapshot this one's layer is a difference to. */
    private Optional<BackupState> baseFor(VolumeState volume, SnapshotRef snapshot, DomainState target) {
        if (snapshot.getParentSnapshotId() == null) {
            return Optional.empty();
        }
        return view.backups().stream().filter(b -> b.getVolumeId().equals(volume.getId()) && b.getStatus() == BackupStatus.COMPLETE
                        && b.getTargetDomainId().equals(target.getId()) && b.getSnapshotId().equals(snapshot.getParentSnapshotId()))
                .max(Comparator.comparing(BackupState::getCreatedAt));
    }

    /** Restores a complete backup (and the chain it stands on) as a new qcow2 volume of any domain of the pool. */
    private void restore(RoutingContext ctx) {
        BackupState backup = backupOrThrow(ctx.pathParam("id"));
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "name"));
        String targetId = body.requiredString("targetDomainId");
        String name = body.name("name");
        if (backup.getStatus() != BackupStatus.COMPLETE) {
            throw ApiError.conflict("BACKUP_NOT_COMPLETE", "backup " + backup.getBackupId() + " is " + backup.getStatus(), null);
        }
        List<BackupLayer> chain = new ArrayList<>();
        for (String id : backup.getChain()) {
            BackupState layer = view.backup(id).filter(b -> b.getStatus() == BackupStatus.COMPLETE).orElseThrow(() -> ApiError.conflict(
                    "BACKUP_CHAIN_BROKEN", "backup " + backup.getBackupId() + " stands on backup " + id + ", which is gone", null));
            chain.add(layer(layer));
        }
        chain.add(layer(backup));
        DomainState backupDomain = api.domainOrThrow(backup.getTargetDomainId());
        DomainState target = api.usable(view.domain(targetId).orElseThrow(() -> ApiError.badField("targetDomainId", "UNKNOWN_DOMAIN",
                "no domain with id '" + targetId + "'")), "targetDomainId");
        RestApi.requireSamePool(target, "target domain", backupDomain, "backup");
        api.requireFreeVolumeName(target, name);
        String taskId = UUID.randomUUID().toString();
        String volumeId = UUID.randomUUID().toString();
        Envelope envelope = api.origin(ctx, target.getEnvelope().getPool(), taskId);
        RestoreBackup command = RestoreBackup.newBuilder().setEnvelope(envelope).setTaskId(taskId).setBackupId(backup.getBackupId())
                .setChain(chain).setSource(RestApi.domainRef(backupDomain)).setTarget(RestApi.domainRef(target))
                .setVolumeId(volumeId).setName(name).setVirtualSize(backup.getVirtualSize()).build();
        api.submitNewVolume(ctx, TaskType.RESTORE_BACKUP, RestApi.creating(envelope, volumeId, target.getId(), name, backup.getVirtualSize(),
                VolumeFormat.QCOW2, Allocation.THIN), command);
    }

    private static BackupLayer layer(BackupState b) {
        return BackupLayer.newBuilder().setBackupId(b.getBackupId()).setBytes(b.getBytes()).setSha256(b.getSha256()).build();
    }

    private void delete(RoutingContext ctx) {
        RestApi.accepted(ctx, delete(backupOrThrow(ctx.pathParam("id")), "requested", api.origin(ctx)));
    }

    /** Removes a backup, unless a kept backup is restored on top of it. */
    Future<JsonObject> delete(BackupState backup, String reason, RestApi.Origin origin) {
        if (backup.getStatus() == BackupStatus.RUNNING) {
            throw ApiError.conflict("BACKUP_RUNNING", "backup " + backup.getBackupId() + " is still running", null);
        }
        List<String> dependents = view.backups().stream().filter(b -> b.getChain().contains(backup.getBackupId()))
                .map(BackupState::getBackupId).toList();
        if (!dependents.isEmpty()) {
            throw ApiError.conflict("BACKUP_IS_BASE", "backups " + dependents + " are restored on top of backup " + backup.getBackupId()
                    + "; delete them first", null);
        }
        DomainState target = api.domainOrThrow(backup.getTargetDomainId());
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(target.getEnvelope().getPool(), taskId);
        DeleteBackup command = DeleteBackup.newBuilder().setEnvelope(envelope).setTaskId(taskId).setBackupId(backup.getBackupId())
                .setVolumeId(backup.getVolumeId()).setTarget(RestApi.domainRef(target)).setReason(reason).build();
        return api.submitTask(TaskType.DELETE_BACKUP, target.getId(), backup.getVolumeId(), command,
                new JsonObject().put("backupId", backup.getBackupId()), List.of(), List.of());
    }

    DomainState backupDomain(String id) {
        DomainState domain = view.domain(id).orElseThrow(() -> ApiError.badField("targetDomainId", "UNKNOWN_DOMAIN",
                "no domain with id '" + id + "'"));
        boolean target = drivers.find(domain.getDriver()).map(d -> d.capabilities().contains(Capability.BACKUP_TARGET)).orElse(false);
        if (!target) {
            throw ApiError.badField("targetDomainId", "NOT_A_BACKUP_DOMAIN", "domain '" + domain.getName() + "' (" + domain.getDriver()
                    + ") cannot hold backups; use an object-store domain");
        }
        return api.usable(domain, "targetDomainId");
    }

    private BackupState backupOrThrow(String id) {
        return view.backup(id).orElseThrow(() -> ApiError.notFound("BACKUP_NOT_FOUND", "no backup with id '" + id + "'"));
    }
}
