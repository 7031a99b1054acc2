package io.storagebus.worker.spm;

import io.storagebus.bus.TaskType;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.driver.CopyListener;
import io.storagebus.driver.CopyResult;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.SnapshotInfo;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeCopier;
import io.storagebus.driver.VolumeImage;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.QemuImg;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.BackupCompleted;
import io.storagebus.schema.BackupDeleted;
import io.storagebus.schema.BackupLayer;
import io.storagebus.schema.BackupProgress;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.BackupStatus;
import io.storagebus.schema.BackupVolume;
import io.storagebus.schema.DeleteBackup;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.RestoreBackup;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeRestored;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.WorkerRecords.VolumeFacts;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backups, restores and backup removal, each a job of the SPM. A backup streams a snapshot
 * (flattened, or only its own layer for an incremental) into the backup domain through the
 * generic verified copy, then writes its manifest there; it is COMPLETE only once both are
 * done, in the transaction that also takes it off the jobs topic. A restore downloads every
 * layer of the chain, checks each against its checksum, stacks them and writes the flattened
 * image into a new volume.
 */
final class BackupJobs {
    private static final Logger LOG = LoggerFactory.getLogger(BackupJobs.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SpmDrivers spm;

    BackupJobs(SpmDrivers spm) {
        this.spm = spm;
    }

    SpmCommandHandler.Job backup(BackupVolume cmd, SpmTerm term) {
        Envelope accepted = spm.answer(cmd.getEnvelope(), term);
        return new SpmCommandHandler.Job(cmd.getTaskId(), List.of(
                backupState(cmd, accepted, BackupStatus.RUNNING, null, null),
                backupTask(cmd).progress(accepted, 0, null)),
                context -> runBackup(cmd, term, context));
    }

    private static WorkerRecords.Task backupTask(BackupVolume cmd) {
        return new WorkerRecords.Task(cmd.getTaskId(), TaskType.BACKUP_VOLUME, cmd.getSource().getId(), cmd.getVolumeId(),
                cmd.getEnvelope().getTimestamp());
    }

    private List<ProducerRecord<String, byte[]>> runBackup(BackupVolume cmd, SpmTerm term, Handled.JobContext context) {
        Envelope cause = cmd.getEnvelope();
        boolean incremental = cmd.getBaseBackupId() != null;
        try {
            StorageDriver source = spm.driver(cmd.getSource());
            StorageDriver target = spm.driver(cmd.getTarget());
            DomainContext sourceDomain = SpmDrivers.context(cmd.getSource(), term);
            DomainContext targetDomain = SpmDrivers.context(cmd.getTarget(), term);
            VolumeUri volume = new VolumeUri(cmd.getSource().getId(), cmd.getVolumeId());
            if (incremental) {
                requireParent(source.snapshots(sourceDomain, volume), cmd);
            }
            CopyResult result;
            long exportNanos = System.nanoTime();
            try (VolumeImage image = source.export(sourceDomain, volume, cmd.getSnapshotId(), incremental)) {
                exportNanos = System.nanoTime() - exportNanos;
                result = VolumeCopier.copy(image, "snapshot " + cmd.getSnapshotId() + " of " + volume, target, targetDomain,
                        new VolumeSpec(cmd.getBackupId(), cmd.getVolumeName(), cmd.getVirtualSize(), io.storagebus.driver.VolumeFormat.QCOW2,
                                io.storagebus.driver.Allocation.THIN),
                        progress(cmd.getTaskId(), cmd.getBackupId(), cmd.getVolumeId(), TaskType.BACKUP_VOLUME, cmd.getSource().getId(), cause,
                                term, context, 0));
            }
            Instant completed = Instant.now();
            target.putManifest(targetDomain, cmd.getBackupId(), manifest(cmd, result, completed));
            LOG.info("epoch {}: backup {} of snapshot {} of volume {} complete ({} bytes{}, sha256 {}; export {} ms, stream {} ms, "
                            + "verify {} ms)", term.epoch(), cmd.getBackupId(), cmd.getSnapshotId(), cmd.getVolumeId(), result.bytes(),
                    incremental ? ", incremental on " + cmd.getBaseBackupId() : "", result.sha256(), exportNanos / 1_000_000,
                    result.copyNanos() / 1_000_000, result.verifyNanos() / 1_000_000);
            Envelope done = spm.answer(cause, term);
            BackupState state = stateOf(cmd, done, BackupStatus.COMPLETE);
            state.setBytes(result.bytes());
            state.setSha256(result.sha256());
            state.setCompletedAt(completed);
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getVolumeId(), BackupCompleted.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                            .setBackupId(cmd.getBackupId()).setVolumeId(cmd.getVolumeId()).setSnapshotId(cmd.getSnapshotId())
                            .setTargetDomainId(cmd.getTarget().getId()).setBaseBackupId(cmd.getBaseBackupId()).setBytes(result.bytes())
                            .setSha256(result.sha256()).setUri(result.target().location()).build()),
                    Records.of(Topics.BACKUP_STATE, cmd.getBackupId(), state),
                    backupTask(cmd).succeeded(done, result.bytes()),
                    SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        } catch (DriverException | IOException | RuntimeException e) {
            if (SpmCommandHandler.abandoned(e, context, term, "backup " + cmd.getBackupId())) {
                return List.of();
            }
            String code = e instanceof DriverException de ? de.code().name() : e instanceof IOException ? "IO_ERROR" : "INVALID_COMMAND";
            LOG.warn("epoch {}: backup {} of volume {} failed: {} {}", term.epoch(), cmd.getBackupId(), cmd.getVolumeId(), code, e.getMessage());
            Envelope failed = spm.answer(cause, term);
            return List.of(
                    WorkerRecords.commandFailed(failed, cause, BackupVolume.class.getName(), cmd.getTaskId(), cmd.getVolumeId(), code, e.getMessage()),
                    backupState(cmd, failed, BackupStatus.FAILED, code, e.getMessage()),
                    backupTask(cmd).failed(failed, code, e.getMessage()),
                    SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        }
    }

    /** An incremental is only a difference to its base if the snapshot still backs onto the base's snapshot. */
    private static void requireParent(List<SnapshotInfo> snapshots, BackupVolume cmd) throws DriverException {
        String parent = snapshots.stream().filter(s -> s.snapshotId().equals(cmd.getSnapshotId())).findFirst()
                .map(SnapshotInfo::parentSnapshotId).orElse(null);
        if (cmd.getBaseSnapshotId() == null || !cmd.getBaseSnapshotId().equals(parent)) {
            throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + cmd.getSnapshotId() + " is now a difference to "
                    + (parent == null ? "nothing" : "snapshot " + parent) + ", not to snapshot " + cmd.getBaseSnapshotId()
                    + " of the base backup " + cmd.getBaseBackupId() + "; back it up whole");
        }
    }

    /** What the backup domain keeps beside the data, so a backup can be understood without StorageBus's topics. */
    private static byte[] manifest(BackupVolume cmd, CopyResult result, Instant completed) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("backupId", cmd.getBackupId());
        m.put("volumeId", cmd.getVolumeId());
        m.put("volumeName", cmd.getVolumeName());
        m.put("sourceDomainId", cmd.getSource().getId());
        m.put("snapshotId", cmd.getSnapshotId());
        m.put("kind", cmd.getBaseBackupId() == null ? "FULL" : "INCREMENTAL");
        m.put("baseBackupId", cmd.getBaseBackupId());
        m.put("chain", new ArrayList<>(cmd.getChain()));
        m.put("format", "qcow2");
        m.put("virtualSize", cmd.getVirtualSize());
        m.put("bytes", result.bytes());
        m.put("sha256", result.sha256());
        m.put("requestedAt", cmd.getEnvelope().getTimestamp().toString());
        m.put("completedAt", completed.toString());
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m);
    }

    private static BackupState stateOf(BackupVolume cmd, Envelope envelope, BackupStatus status) {
        return BackupState.newBuilder().setEnvelope(envelope).setBackupId(cmd.getBackupId()).setTaskId(cmd.getTaskId())
                .setVolumeId(cmd.getVolumeId()).setVolumeName(cmd.getVolumeName()).setDomainId(cmd.getSource().getId())
                .setTargetDomainId(cmd.getTarget().getId()).setSnapshotId(cmd.getSnapshotId()).setVirtualSize(cmd.getVirtualSize())
                .setBaseBackupId(cmd.getBaseBackupId()).setChain(cmd.getChain()).setStatus(status).setScheduled(cmd.getScheduled())
                .setCreatedAt(cmd.getEnvelope().getTimestamp()).build();
    }

    private static ProducerRecord<String, byte[]> backupState(BackupVolume cmd, Envelope envelope, BackupStatus status, String code,
                                                              String message) {
        BackupState state = stateOf(cmd, envelope, status);
        state.setErrorCode(code);
        state.setErrorMessage(message);
        return Records.of(Topics.BACKUP_STATE, cmd.getBackupId(), state);
    }

    SpmCommandHandler.Job restore(RestoreBackup cmd, SpmTerm term) {
        VolumeFacts volume = restored(cmd);
        return new SpmCommandHandler.Job(cmd.getTaskId(), List.of(WorkerRecords.Task.of(TaskType.RESTORE_BACKUP, volume)
                .progress(spm.answer(cmd.getEnvelope(), term), 0, null)),
                context -> runRestore(cmd, volume, term, context));
    }

    private static VolumeFacts restored(RestoreBackup cmd) {
        return new VolumeFacts(cmd.getVolumeId(), cmd.getTarget().getId(), cmd.getName(), cmd.getVirtualSize(), VolumeFormat.QCOW2,
                io.storagebus.schema.Allocation.THIN, cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
    }

    private List<ProducerRecord<String, byte[]>> runRestore(RestoreBackup cmd, VolumeFacts volume, SpmTerm term, Handled.JobContext context) {
        Envelope cause = cmd.getEnvelope();
        Path work = null;
        try {
            StorageDriver source = spm.driver(cmd.getSource());
            StorageDriver target = spm.driver(cmd.getTarget());
            DomainContext sourceDomain = SpmDrivers.context(cmd.getSource(), term);
            work = Files.createTempDirectory("storagebus-restore-" + cmd.getBackupId());
            long total = cmd.getChain().stream().mapToLong(BackupLayer::getBytes).sum();
            long done = 0;
            Path top = null;
            for (int i = 0; i < cmd.getChain().size(); i++) {
                BackupLayer layer = cmd.getChain().get(i);
                Path file = work.resolve(i + ".qcow2");
                download(source, sourceDomain, layer, file, progress(cmd.getTaskId(), cmd.getBackupId(), cmd.getVolumeId(), TaskType.RESTORE_BACKUP,
                        cmd.getTarget().getId(), cause, term, context, done), total);
                done += layer.getBytes();
                if (top != null) {
                    QemuImg.rebaseUnsafe(file, top.getFileName().toString());
                }
                top = file;
            }
            Path image = top;
            if (cmd.getChain().size() > 1) {
                image = work.resolve("restored.qcow2");
                QemuImg.flatten(top, image);
            }
            CopyResult result;
            try (VolumeImage flat = new VolumeImage(Files.newInputStream(image), Files.size(image),
                    io.storagebus.driver.VolumeFormat.QCOW2, () -> { })) {
                result = VolumeCopier.copy(flat, "backup " + cmd.getBackupId(), target, SpmDrivers.context(cmd.getTarget(), term),
                        new VolumeSpec(cmd.getVolumeId(), cmd.getName(), cmd.getVirtualSize(), io.storagebus.driver.VolumeFormat.QCOW2,
                                io.storagebus.driver.Allocation.THIN), CopyListener.NONE);
            }
            LOG.info("epoch {}: backup {} restored as volume {} ({} layers)", term.epoch(), cmd.getBackupId(), cmd.getVolumeId(),
                    cmd.getChain().size());
            Envelope finished = spm.answer(cause, term);
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeRestored.newBuilder().setEnvelope(finished).setTaskId(cmd.getTaskId())
                            .setBackupId(cmd.getBackupId()).setVolumeId(cmd.getVolumeId()).setDomainId(cmd.getTarget().getId())
                            .setUri(result.target().location()).setBytes(result.bytes()).build()),
                    WorkerRecords.volumeState(volume, finished, VolumeStatus.READY, result.target().location(), null, null),
                    WorkerRecords.Task.of(TaskType.RESTORE_BACKUP, volume).succeeded(finished, total),
                    SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        } catch (DriverException | IOException | RuntimeException e) {
            if (SpmCommandHandler.abandoned(e, context, term, "restore of backup " + cmd.getBackupId())) {
                return List.of();
            }
            String code = e instanceof DriverException de ? de.code().name() : e instanceof IOException ? "IO_ERROR" : "INVALID_COMMAND";
            LOG.warn("epoch {}: restore of backup {} failed: {} {}", term.epoch(), cmd.getBackupId(), code, e.getMessage());
            List<ProducerRecord<String, byte[]>> out = new ArrayList<>(SpmCommandHandler.failed(cause, spm.answer(cause, term),
                    RestoreBackup.class, TaskType.RESTORE_BACKUP, volume, code, e.getMessage()));
            out.add(SpmCommandHandler.jobDone(term, cmd.getTaskId()));
            return out;
        } finally {
            deleteTree(work);
        }
    }

    /** Downloads one backup layer and checks it against the checksum its backup recorded. */
    private static void download(StorageDriver source, DomainContext domain, BackupLayer layer, Path file, CopyListener listener, long total)
            throws DriverException, IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long count = 0;
        long reported = 0;
        try (InputStream in = source.read(domain, new VolumeUri(domain.id(), layer.getBackupId()));
             OutputStream out = Files.newOutputStream(file)) {
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) > 0; ) {
                out.write(buffer, 0, n);
                digest.update(buffer, 0, n);
                count += n;
                if (count - reported >= 64L << 20) {
                    reported = count;
                    listener.progress(count, total);
                }
            }
        }
        String sha = HexFormat.of().formatHex(digest.digest());
        if (count != layer.getBytes() || !sha.equals(layer.getSha256())) {
            throw new DriverException(DriverException.Code.CHECKSUM_MISMATCH, "backup " + layer.getBackupId() + " reads as " + count
                    + " bytes with sha256 " + sha + "; its manifest says " + layer.getBytes() + " bytes, " + layer.getSha256());
        }
        listener.progress(count, total);
    }

    SpmCommandHandler.Job delete(DeleteBackup cmd, SpmTerm term) {
        Envelope accepted = spm.answer(cmd.getEnvelope(), term);
        WorkerRecords.Task task = new WorkerRecords.Task(cmd.getTaskId(), TaskType.DELETE_BACKUP, cmd.getTarget().getId(), cmd.getVolumeId(),
                cmd.getEnvelope().getTimestamp());
        return new SpmCommandHandler.Job(cmd.getTaskId(), List.of(task.running(accepted)),
                context -> {
                    Envelope done = spm.answer(cmd.getEnvelope(), term);
                    try {
                        spm.driver(cmd.getTarget()).deleteBackup(SpmDrivers.context(cmd.getTarget(), term), cmd.getBackupId());
                        LOG.info("epoch {}: backup {} deleted ({})", term.epoch(), cmd.getBackupId(), cmd.getReason());
                        return List.of(
                                Records.of(Topics.EVENTS, cmd.getVolumeId(), BackupDeleted.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                                        .setBackupId(cmd.getBackupId()).setVolumeId(cmd.getVolumeId()).setReason(cmd.getReason()).build()),
                                WorkerRecords.tombstone(Topics.BACKUP_STATE, cmd.getBackupId()),
                                task.succeeded(done),
                                SpmCommandHandler.jobDone(term, cmd.getTaskId()));
                    } catch (DriverException | RuntimeException e) {
                        if (SpmCommandHandler.abandoned(e, context, term, "deletion of backup " + cmd.getBackupId())) {
                            return List.of();
                        }
                        String code = e instanceof DriverException de ? de.code().name() : "INVALID_COMMAND";
                        return List.of(
                                WorkerRecords.commandFailed(done, cmd.getEnvelope(), DeleteBackup.class.getName(), cmd.getTaskId(),
                                        cmd.getVolumeId(), code, e.getMessage()),
                                task.failed(done, code, e.getMessage()),
                                SpmCommandHandler.jobDone(term, cmd.getTaskId()));
                    }
                });
    }

    /** Progress of a backup or restore: an event and the task's bytes, published at once; stops the copy when the term ends. */
    private CopyListener progress(String taskId, String backupId, String volumeId, TaskType taskType, String domainId, Envelope cause,
                                  SpmTerm term, Handled.JobContext context, long before) {
        return (copied, total) -> {
            if (context.cancelled()) {
                throw new CancellationException("the SPM term ended");
            }
            Envelope e = spm.answer(cause, term);
            long sum = Math.max(total, before + copied);
            context.progress(List.of(
                    Records.of(Topics.EVENTS, volumeId, BackupProgress.newBuilder().setEnvelope(e).setTaskId(taskId).setBackupId(backupId)
                            .setVolumeId(volumeId).setDoneBytes(before + copied).setTotalBytes(sum).build()),
                    new WorkerRecords.Task(taskId, taskType, domainId, volumeId, cause.getTimestamp()).progress(e, before + copied, sum)));
        };
    }

    private static void deleteTree(Path dir) {
        if (dir == null) {
            return;
        }
        try (var files = Files.list(dir)) {
            files.forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a temporary directory
        }
        dir.toFile().delete();
    }
}
