package io.storagebus.manager.requests;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Topics;
import io.storagebus.manager.backup.BackupScheduler;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.requests.BackupRequests.Backup;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.NotFound;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.vertx.core.Future;

/**
 * A volume's backup policy: every {@code every}, a snapshot backed up to an object-store domain
 * (incremental, full every {@code fullEvery}-th time), and retention of those backups by count
 * and age. The policy is state; the {@link BackupScheduler} of the active manager carries it out
 * through the same requests users make ({@link #scheduled}).
 */
public record BackupPolicyRequests(Resources resources, ActiveRole role, SnapshotRequests snapshots, BackupRequests backups) {
    /** A policy as asked for; {@code keepFor} may be null (keep by count only). */
    public record Policy(String volumeId, String targetDomainId, Duration every, int fullEvery, int keepLast, Duration keepFor) {
    }

    /** Sets (or replaces) the policy; completes once the state view has it, so a read right after sees it. */
    public Future<BackupPolicy> put(Policy request, Origin origin) {
        VolumeState volume = resources.volume(request.volumeId());
        if (volume.getStatus() == VolumeStatus.DELETING || volume.getStatus() == VolumeStatus.FAILED) {
            throw new Conflict("VOLUME_NOT_READY", "volume '" + volume.getName() + "' is " + volume.getStatus(), null);
        }
        DomainState domain = resources.domain(volume.getDomainId());
        snapshots.requireSnapshots(domain, volume);
        DomainState target = backups.backupDomain(request.targetDomainId());
        Resources.requireSamePool(target, "backup domain", domain, "volume");
        Instant createdAt = resources.view().backupPolicy(volume.getId()).map(BackupPolicy::getCreatedAt).orElse(Instant.now());
        BackupPolicy policy = BackupPolicy.newBuilder().setEnvelope(origin.envelope(domain.getEnvelope().getPool(), UUID.randomUUID().toString()))
                .setVolumeId(volume.getId()).setTargetDomainId(target.getId()).setIntervalSeconds(request.every().toSeconds())
                .setFullEvery(request.fullEvery()).setKeepLast(request.keepLast())
                .setKeepForSeconds(request.keepFor() == null ? null : request.keepFor().toSeconds()).setCreatedAt(createdAt).build();
        return publishAndSync(new Outgoing(Topics.BACKUP_POLICY_STATE, volume.getId(), policy)).map(v -> policy);
    }

    /** Stops the schedule; the backups it made stay, and so does its newest snapshot, until deleted. */
    public Future<Void> delete(String volumeId) {
        policy(volumeId);
        return publishAndSync(new Outgoing(Topics.BACKUP_POLICY_STATE, volumeId, null));
    }

    public BackupPolicy policy(String volumeId) {
        return resources.view().backupPolicy(volumeId).orElseThrow(() -> new NotFound("BACKUP_POLICY_NOT_FOUND",
                "volume '" + volumeId + "' has no backup policy"));
    }

    private Future<Void> publishAndSync(Outgoing record) {
        return role.bus().publish(List.of(record)).compose(v -> Future.fromCompletionStage(resources.view().sync()));
    }

    /** The requests a policy makes, issued as {@code manager:<id>:backup-policy}. */
    public BackupScheduler.Actions scheduled(String managerId) {
        Origin origin = (pool, correlationId) -> Envelopes.origin(pool, "manager:" + managerId + ":backup-policy", correlationId);
        return new BackupScheduler.Actions() {
            @Override
            public Future<Submitted> snapshot(VolumeState volume, String name) {
                return snapshots.snapshot(volume, name, origin);
            }

            @Override
            public Future<Submitted> backup(VolumeState volume, String targetDomainId, String snapshotId, boolean incremental) {
                return backups.backup(volume, new Backup(volume.getId(), targetDomainId, snapshotId, incremental), true, origin);
            }

            @Override
            public Future<Submitted> deleteSnapshot(VolumeState volume, String snapshotId) {
                return snapshots.deleteSnapshot(volume, snapshotId, origin);
            }

            @Override
            public Future<Submitted> deleteBackup(BackupState backup) {
                return backups.delete(backup, "retention", origin);
            }

            @Override
            public Future<Void> removePolicy(String volumeId) {
                return role.bus().publish(List.of(new Outgoing(Topics.BACKUP_POLICY_STATE, volumeId, null)));
            }
        };
    }
}
