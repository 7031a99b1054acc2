package io.storagebus.manager.requests;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import io.storagebus.bus.TaskType;
import io.storagebus.bus.Topics;
import io.storagebus.driver.Capability;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.Invalid;
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
import io.storagebus.schema.VolumeStatus;
import io.vertx.core.Future;

/**
 * Backups of snapshots to a backup domain (an object store), their deletion and their restore
 * into any domain of the pool. A backup is full, or incremental: only the snapshot's own layer,
 * restored on top of the backup of its parent snapshot.
 */
public record BackupRequests(Resources resources, TaskSubmitter submitter) {
    /** A backup of a volume's snapshot (the newest READY one when {@code snapshotId} is null). */
    public record Backup(String volumeId, String targetDomainId, String snapshotId, boolean incremental) {
    }

    /** A user's backup. */
    public Future<Submitted> backup(Backup request, Origin origin) {
        return backup(resources.volume(request.volumeId()), request, false, origin);
    }

    /**
     * Backs up a snapshot. Incremental: only the snapshot's layer, which needs a complete backup
     * of its parent snapshot in the same backup domain. {@code scheduled}: the volume's backup
     * policy asks, and its retention will delete the backup.
     */
    public Future<Submitted> backup(VolumeState volume, Backup request, boolean scheduled, Origin origin) {
        if (volume.getStatus() == VolumeStatus.MOVING || volume.getStatus() == VolumeStatus.DELETING) {
            throw new Conflict("VOLUME_BUSY", "volume '" + volume.getName() + "' is " + volume.getStatus() + "; back it up once that is done", null);
        }
        DomainState target = backupDomain(request.targetDomainId());
        List<SnapshotRef> ready = volume.getSnapshots().stream().filter(s -> "READY".equals(s.getStatus())).toList();
        String snapshotId = request.snapshotId();
        SnapshotRef snapshot = snapshotId == null
                ? ready.stream().reduce((a, b) -> b).orElseThrow(() -> new Conflict("NO_SNAPSHOT", "volume '" + volume.getName()
                        + "' has no snapshot to back up; take one first (POST /api/v1/volumes/" + volume.getId() + "/snapshots)", null))
                : ready.stream().filter(s -> s.getSnapshotId().equals(snapshotId)).findFirst().orElseThrow(() -> new Invalid(
                        "snapshotId", "SNAPSHOT_NOT_FOUND", "volume '" + volume.getName() + "' has no READY snapshot '" + snapshotId + "'"));
        BackupState base = null;
        if (request.incremental()) {
            base = baseFor(volume, snapshot, target).orElseThrow(() -> new Conflict("NO_BASE_BACKUP", "an incremental backup of snapshot '"
                    + snapshot.getName() + "' needs a complete backup of its parent snapshot in domain '" + target.getName()
                    + "'; back it up whole first", "incremental"));
        }
        DomainState source = resources.usable(resources.domain(volume.getDomainId()), null);
        Resources.requireSamePool(target, "backup domain", source, "volume");
        List<String> chain = new ArrayList<>();
        if (base != null) {
            chain.addAll(base.getChain());
            chain.add(base.getBackupId());
        }
        String taskId = UUID.randomUUID().toString();
        String backupId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(source.getEnvelope().getPool(), taskId);
        BackupVolume command = BackupVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setBackupId(backupId)
                .setVolumeId(volume.getId()).setVolumeName(volume.getName()).setSource(Resources.domainRef(source))
                .setSnapshotId(snapshot.getSnapshotId()).setTarget(Resources.domainRef(target)).setVirtualSize(volume.getVirtualSize())
                .setBaseBackupId(base == null ? null : base.getBackupId()).setBaseSnapshotId(base == null ? null : base.getSnapshotId())
                .setChain(chain).setScheduled(scheduled).build();
        BackupState running = BackupState.newBuilder().setEnvelope(envelope).setBackupId(backupId).setTaskId(taskId)
                .setVolumeId(volume.getId()).setVolumeName(volume.getName()).setDomainId(source.getId()).setTargetDomainId(target.getId())
                .setSnapshotId(snapshot.getSnapshotId()).setVirtualSize(volume.getVirtualSize()).setBaseBackupId(command.getBaseBackupId())
                .setChain(chain).setStatus(BackupStatus.RUNNING).setCreatedAt(envelope.getTimestamp()).setScheduled(scheduled).build();
        String kind = base == null ? "FULL" : "INCREMENTAL";
        return submitter.spmTask(TaskType.BACKUP_VOLUME, source.getId(), volume.getId(), command,
                        List.of(new Outgoing(Topics.BACKUP_STATE, backupId, running)), List.of())
                .map(s -> s.with("backupId", backupId).with("snapshotId", snapshot.getSnapshotId()).with("kind", kind));
    }

    /** The newest complete backup, in the target domain, of the snapshot this one's layer is a difference to. */
    private Optional<BackupState> baseFor(VolumeState volume, SnapshotRef snapshot, DomainState target) {
        if (snapshot.getParentSnapshotId() == null) {
            return Optional.empty();
        }
        return resources.view().backupsOf(volume.getId()).stream().filter(b -> b.getStatus() == BackupStatus.COMPLETE
                        && b.getTargetDomainId().equals(target.getId()) && b.getSnapshotId().equals(snapshot.getParentSnapshotId()))
                .max(Comparator.comparing(BackupState::getCreatedAt));
    }

    /** Restores a complete backup (and the chain it stands on) as a new qcow2 volume of any domain of the pool. */
    public Future<Submitted> restore(String backupId, String targetDomainId, String name, Origin origin) {
        BackupState backup = resources.backup(backupId);
        if (backup.getStatus() != BackupStatus.COMPLETE) {
            throw new Conflict("BACKUP_NOT_COMPLETE", "backup " + backup.getBackupId() + " is " + backup.getStatus(), null);
        }
        List<BackupLayer> chain = new ArrayList<>();
        for (String id : backup.getChain()) {
            BackupState layer = resources.view().backup(id).filter(b -> b.getStatus() == BackupStatus.COMPLETE).orElseThrow(() -> new Conflict(
                    "BACKUP_CHAIN_BROKEN", "backup " + backup.getBackupId() + " stands on backup " + id + ", which is gone", null));
            chain.add(layer(layer));
        }
        chain.add(layer(backup));
        DomainState backupDomain = resources.domain(backup.getTargetDomainId());
        DomainState target = resources.usable(resources.domain(targetDomainId, "targetDomainId"), "targetDomainId");
        Resources.requireSamePool(target, "target domain", backupDomain, "backup");
        resources.requireFreeVolumeName(target, name);
        String taskId = UUID.randomUUID().toString();
        String volumeId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(target.getEnvelope().getPool(), taskId);
        RestoreBackup command = RestoreBackup.newBuilder().setEnvelope(envelope).setTaskId(taskId).setBackupId(backup.getBackupId())
                .setChain(chain).setSource(Resources.domainRef(backupDomain)).setTarget(Resources.domainRef(target))
                .setVolumeId(volumeId).setName(name).setVirtualSize(backup.getVirtualSize()).build();
        return submitter.newVolume(TaskType.RESTORE_BACKUP, Resources.creating(envelope, volumeId, target.getId(), name, backup.getVirtualSize(),
                VolumeFormat.QCOW2, Allocation.THIN), command);
    }

    private static BackupLayer layer(BackupState b) {
        return BackupLayer.newBuilder().setBackupId(b.getBackupId()).setBytes(b.getBytes()).setSha256(b.getSha256()).build();
    }

    /** Removes a backup, unless a kept backup is restored on top of it. {@code reason}: "requested", or the policy's "retention". */
    public Future<Submitted> delete(BackupState backup, String reason, Origin origin) {
        if (backup.getStatus() == BackupStatus.RUNNING) {
            throw new Conflict("BACKUP_RUNNING", "backup " + backup.getBackupId() + " is still running", null);
        }
        List<String> dependents = resources.view().backups().stream().filter(b -> b.getChain().contains(backup.getBackupId()))
                .map(BackupState::getBackupId).toList();
        if (!dependents.isEmpty()) {
            throw new Conflict("BACKUP_IS_BASE", "backups " + dependents + " are restored on top of backup " + backup.getBackupId()
                    + "; delete them first", null);
        }
        DomainState target = resources.domain(backup.getTargetDomainId());
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(target.getEnvelope().getPool(), taskId);
        DeleteBackup command = DeleteBackup.newBuilder().setEnvelope(envelope).setTaskId(taskId).setBackupId(backup.getBackupId())
                .setVolumeId(backup.getVolumeId()).setTarget(Resources.domainRef(target)).setReason(reason).build();
        return submitter.spmTask(TaskType.DELETE_BACKUP, target.getId(), backup.getVolumeId(), command, List.of(), List.of())
                .map(s -> s.with("backupId", backup.getBackupId()));
    }

    /** A domain that can hold backups (an object store), usable now. */
    public DomainState backupDomain(String id) {
        DomainState domain = resources.domain(id, "targetDomainId");
        if (!resources.capable(domain, Capability.BACKUP_TARGET)) {
            throw new Invalid("targetDomainId", "NOT_A_BACKUP_DOMAIN", "domain '" + domain.getName() + "' (" + domain.getDriver()
                    + ") cannot hold backups; use an object-store domain");
        }
        return resources.usable(domain, "targetDomainId");
    }
}
