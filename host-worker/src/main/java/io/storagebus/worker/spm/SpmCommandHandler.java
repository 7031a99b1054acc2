package io.storagebus.worker.spm;

import io.storagebus.bus.TaskType;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.CopyResult;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.leases.LeaseHeldException;
import io.storagebus.leases.SpmTerm;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.schema.BackupVolume;
import io.storagebus.schema.CloneVolume;
import io.storagebus.schema.CopyVolume;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DeleteBackup;
import io.storagebus.schema.DeleteSnapshot;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.LayerChangeDone;
import io.storagebus.schema.RestoreBackup;
import io.storagebus.schema.SnapshotVolume;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeCopied;
import io.storagebus.schema.VolumeCopyProgress;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeDeleted;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.worker.CommandTrace;
import io.storagebus.worker.IssuerPolicy;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.WorkerRecords.VolumeFacts;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns one record of the pool's SPM command topic into what the SPM publishes for it: an event
 * and state updates, a dead letter, or, for long work (copies, backups, restores, deletes,
 * offline merges), an acceptance now and a job that publishes the outcome later. The caller sends
 * the immediate records in the same Kafka transaction as the consumer offset, so each command's
 * acceptance or outcome is published exactly once. A job is recorded on the pool's jobs topic
 * when accepted and removed with its outcome, so a new SPM term runs unfinished jobs again.
 */
final class SpmCommandHandler {
    private static final Logger LOG = LoggerFactory.getLogger(SpmCommandHandler.class);

    private static final Set<Class<? extends SpecificRecord>> SPM_COMMANDS = Set.of(CreateVolume.class, CloneVolume.class,
            CopyVolume.class, DeleteVolume.class, SnapshotVolume.class, DeleteSnapshot.class, LayerChangeDone.class, BackupVolume.class,
            RestoreBackup.class, DeleteBackup.class);

    private final SpmDrivers spm;
    private final VolumeLeases deletions;
    private final SnapshotCommands snapshots;
    private final BackupJobs backups;
    private final MessageCodec codec = MessageCodec.standard();

    SpmCommandHandler(SpmDrivers spm, VolumeLeases deletions) {
        this.spm = spm;
        this.deletions = deletions;
        this.snapshots = new SnapshotCommands(spm);
        this.backups = new BackupJobs(spm);
    }

    Handled handle(ConsumerRecord<String, byte[]> record, SpmTerm term) {
        SpecificRecord command;
        try {
            command = codec.decode(record.value());
        } catch (UndecodableRecordException e) {
            return Handled.now(List.of(spm.deadLetter(record, e.getMessage())));
        }
        return CommandTrace.run(command, () -> dispatch(record, command, term), Handled::records);
    }

    private Handled dispatch(ConsumerRecord<String, byte[]> record, SpecificRecord command, SpmTerm term) {
        Envelope envelope = envelopeOf(command);
        if (envelope == null) {
            return Handled.now(List.of(spm.deadLetter(record, command.getSchema().getFullName() + " is not an SPM command")));
        }
        if (!envelope.getPool().equals(term.pool())) {
            return Handled.now(List.of(spm.deadLetter(record, "command of another pool on the topic of pool " + term.pool())));
        }
        Optional<String> refused = spm.config().issuerPolicy().refusal(record, command, envelope);
        if (refused.isPresent()) {
            LOG.warn("epoch {}: {}", term.epoch(), refused.get());
            return Handled.now(List.of(WorkerRecords.commandFailed(spm.answer(envelope, term), envelope, command.getSchema().getFullName(),
                    null, null, IssuerPolicy.REFUSED, refused.get()), spm.deadLetter(record, refused.get())));
        }
        Job job = job(command, term);
        if (job != null) {
            List<ProducerRecord<String, byte[]>> accepted = new ArrayList<>(job.accepted());
            accepted.add(new ProducerRecord<>(Topics.spmJobs(term.pool()), job.taskId(), record.value()));
            return new Handled(accepted, job.taskId(), job.run());
        }
        if (command instanceof CreateVolume create) {
            return Handled.now(createVolume(create, term));
        }
        if (command instanceof CloneVolume clone) {
            return Handled.now(cloneVolume(clone, term));
        }
        if (command instanceof SnapshotVolume snapshot) {
            return Handled.now(snapshots.snapshot(snapshot, term));
        }
        if (command instanceof DeleteSnapshot delete) {
            return Handled.now(snapshots.beginMerge(delete, term));
        }
        return Handled.now(snapshots.layerChanged((LayerChangeDone) command, term));
    }

    /** The command's envelope if it is one of the SPM's, else null. */
    private static Envelope envelopeOf(SpecificRecord command) {
        return SPM_COMMANDS.contains(command.getClass()) ? Envelopes.of(command) : null;
    }

    /**
     * A long command: what its acceptance publishes, and the job that carries it out and returns
     * its outcome (never throwing; nothing when the term ended under it).
     */
    record Job(String taskId, List<ProducerRecord<String, byte[]>> accepted, Handled.LongJob run) {
    }

    /** The job a command runs as, or null when it completes in the batch's transaction. */
    private Job job(SpecificRecord command, SpmTerm term) {
        if (command instanceof CopyVolume copy) {
            VolumeFacts target = copyTarget(copy);
            return new Job(copy.getTaskId(), List.of(WorkerRecords.taskState(copy.getTaskId(), TaskType.COPY_VOLUME, target,
                    spm.answer(copy.getEnvelope(), term), TaskStatus.RUNNING, 0L, null, null, null)),
                    context -> runCopy(copy, term, target, context));
        }
        if (command instanceof DeleteVolume delete) {
            return new Job(delete.getTaskId(), List.of(running(delete.getTaskId(), TaskType.DELETE_VOLUME, delete.getVolume(),
                    spm.answer(delete.getEnvelope(), term))), context -> deleteVolume(delete, term));
        }
        if (command instanceof BackupVolume backup) {
            return backups.backup(backup, term);
        }
        if (command instanceof RestoreBackup restore) {
            return backups.restore(restore, term);
        }
        if (command instanceof DeleteBackup delete) {
            return backups.delete(delete, term);
        }
        return snapshots.offlineMerge(command, term);
    }

    /** The RUNNING task of a job on an existing volume. */
    static ProducerRecord<String, byte[]> running(String taskId, TaskType type, VolumeState volume, Envelope envelope) {
        return WorkerRecords.taskState(taskId, type, volume.getDomainId(), volume.getId(), envelope.getTimestamp(), envelope,
                TaskStatus.RUNNING, null, null, null, null);
    }

    /**
     * A job an earlier SPM term accepted and did not finish, from the pool's jobs topic: run it
     * again from the start (every job is idempotent by what it creates or removes).
     */
    Handled.LongJob resume(String taskId, byte[] commandBytes, SpmTerm term) {
        try {
            SpecificRecord command = codec.decode(commandBytes);
            Envelope envelope = envelopeOf(command);
            Job job = envelope != null && envelope.getPool().equals(term.pool()) ? job(command, term) : null;
            if (job != null) {
                LOG.info("epoch {}: resuming {} task {} left by an earlier term", term.epoch(), command.getSchema().getName(), taskId);
                return job.run();
            }
            LOG.warn("epoch {}: job {} on the jobs topic is not a job of this pool; ignored", term.epoch(), taskId);
        } catch (UndecodableRecordException e) {
            LOG.warn("epoch {}: job {} on the jobs topic cannot be decoded ({}); ignored", term.epoch(), taskId, e.getMessage());
        }
        return null;
    }

    private List<ProducerRecord<String, byte[]>> createVolume(CreateVolume cmd, SpmTerm term) {
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        VolumeFacts volume = new VolumeFacts(cmd.getVolumeId(), cmd.getDomain().getId(), cmd.getName(), cmd.getVirtualSize(),
                cmd.getFormat(), cmd.getAllocation(), cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
        try {
            StorageDriver driver = spm.driver(cmd.getDomain());
            VolumeInfo info = driver.create(SpmDrivers.context(cmd.getDomain(), term), new VolumeSpec(cmd.getVolumeId(), cmd.getName(),
                    cmd.getVirtualSize(), SpmDrivers.driverFormat(cmd.getFormat()), SpmDrivers.driverAllocation(cmd.getAllocation()),
                    cmd.getInitialSize() == null ? 0 : cmd.getInitialSize()));
            LOG.info("epoch {}: created volume {} at {}", term.epoch(), cmd.getVolumeId(), info.location());
            return created(envelope, volume, TaskType.CREATE_VOLUME, info, null);
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            LOG.warn("epoch {}: volume {} not created: {} {}", term.epoch(), cmd.getVolumeId(), e.code(), e.getMessage());
            return failed(cmd.getEnvelope(), envelope, CreateVolume.class, TaskType.CREATE_VOLUME, volume, e.code().name(), e.getMessage());
        } catch (IllegalArgumentException e) {
            return failed(cmd.getEnvelope(), envelope, CreateVolume.class, TaskType.CREATE_VOLUME, volume, "INVALID_COMMAND", e.getMessage());
        }
    }

    /** A copy-on-write clone in the source's domain: quick, so it completes in the batch. */
    private List<ProducerRecord<String, byte[]>> cloneVolume(CloneVolume cmd, SpmTerm term) {
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        VolumeFacts volume = new VolumeFacts(cmd.getTargetVolumeId(), cmd.getDomain().getId(), cmd.getName(), cmd.getVirtualSize(),
                VolumeFormat.QCOW2, io.storagebus.schema.Allocation.THIN, cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
        try {
            VolumeInfo info = spm.driver(cmd.getDomain()).clone(SpmDrivers.context(cmd.getDomain(), term),
                    new VolumeUri(cmd.getDomain().getId(), cmd.getSourceVolumeId()), new VolumeSpec(cmd.getTargetVolumeId(), cmd.getName(),
                            cmd.getVirtualSize(), io.storagebus.driver.VolumeFormat.QCOW2, io.storagebus.driver.Allocation.THIN));
            LOG.info("epoch {}: cloned volume {} as {} at {}", term.epoch(), cmd.getSourceVolumeId(), cmd.getTargetVolumeId(), info.location());
            return created(envelope, volume, TaskType.CLONE_VOLUME, info, cmd.getSourceVolumeId());
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            return failed(cmd.getEnvelope(), envelope, CloneVolume.class, TaskType.CLONE_VOLUME, volume, e.code().name(), e.getMessage());
        } catch (IllegalArgumentException e) {
            return failed(cmd.getEnvelope(), envelope, CloneVolume.class, TaskType.CLONE_VOLUME, volume, "INVALID_COMMAND", e.getMessage());
        }
    }

    private List<ProducerRecord<String, byte[]>> created(Envelope envelope, VolumeFacts volume, TaskType taskType, VolumeInfo info,
                                                         String parentVolumeId) {
        VolumeCreated event = VolumeCreated.newBuilder()
                .setEnvelope(envelope).setTaskId(volume.taskId()).setVolumeId(volume.volumeId())
                .setDomainId(volume.domainId()).setName(volume.name()).setVirtualSize(volume.virtualSize())
                .setFormat(volume.format()).setAllocation(volume.allocation()).setUri(info.location()).setHostId(spm.config().hostId())
                .build();
        return List.of(
                Records.of(Topics.EVENTS, volume.volumeId(), event),
                WorkerRecords.volumeState(volume, envelope, VolumeStatus.READY, info.location(), null, null, parentVolumeId),
                WorkerRecords.taskState(volume.taskId(), taskType, volume, envelope, TaskStatus.SUCCEEDED, null, null, null, null));
    }

    private static VolumeFacts copyTarget(CopyVolume cmd) {
        return new VolumeFacts(cmd.getTargetVolumeId(), cmd.getTarget().getId(), cmd.getTargetName(), cmd.getVirtualSize(),
                cmd.getFormat(), cmd.getAllocation(), cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
    }

    private List<ProducerRecord<String, byte[]>> runCopy(CopyVolume cmd, SpmTerm term, VolumeFacts target, Handled.JobContext context) {
        Envelope cause = cmd.getEnvelope();
        try {
            StorageDriver source = spm.driver(cmd.getSource());
            StorageDriver targetDriver = spm.driver(cmd.getTarget());
            VolumeSpec spec = new VolumeSpec(cmd.getTargetVolumeId(), cmd.getTargetName(), cmd.getVirtualSize(),
                    SpmDrivers.driverFormat(cmd.getFormat()), SpmDrivers.driverAllocation(cmd.getAllocation()));
            CopyResult result = source.copyTo(SpmDrivers.context(cmd.getSource(), term),
                    new VolumeUri(cmd.getSource().getId(), cmd.getSourceVolumeId()),
                    targetDriver, SpmDrivers.context(cmd.getTarget(), term), spec, (copied, total) -> {
                        if (context.cancelled()) {
                            throw new CancellationException("the SPM term ended");
                        }
                        Envelope e = spm.answer(cause, term);
                        context.progress(List.of(
                                Records.of(Topics.EVENTS, cmd.getTargetVolumeId(), VolumeCopyProgress.newBuilder().setEnvelope(e)
                                        .setTaskId(cmd.getTaskId()).setSourceVolumeId(cmd.getSourceVolumeId())
                                        .setTargetVolumeId(cmd.getTargetVolumeId()).setCopiedBytes(copied).setTotalBytes(total).build()),
                                WorkerRecords.taskState(cmd.getTaskId(), TaskType.COPY_VOLUME, target, e, TaskStatus.RUNNING, copied, total, null, null)));
                    });
            LOG.info("epoch {}: copied volume {} to {} ({} bytes, sha256 {})", term.epoch(), cmd.getSourceVolumeId(),
                    result.target().location(), result.bytes(), result.sha256());
            Envelope done = spm.answer(cause, term);
            VolumeCopied event = VolumeCopied.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                    .setSourceVolumeId(cmd.getSourceVolumeId()).setTargetVolumeId(cmd.getTargetVolumeId())
                    .setTargetDomainId(cmd.getTarget().getId()).setUri(result.target().location()).setBytes(result.bytes())
                    .setSha256(result.sha256()).setCopyMillis(result.copyNanos() / 1_000_000).setVerifyMillis(result.verifyNanos() / 1_000_000)
                    .build();
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getTargetVolumeId(), event),
                    WorkerRecords.volumeState(target, done, VolumeStatus.READY, result.target().location(), null, null),
                    WorkerRecords.taskState(cmd.getTaskId(), TaskType.COPY_VOLUME, target, done, TaskStatus.SUCCEEDED, result.bytes(), result.bytes(), null, null),
                    jobDone(term, cmd.getTaskId()));
        } catch (DriverException | RuntimeException e) {
            if (abandoned(e, context, term, "copy of " + cmd.getSourceVolumeId())) {
                return List.of();
            }
            String code = e instanceof DriverException de ? de.code().name() : "INVALID_COMMAND";
            LOG.warn("epoch {}: copy of {} failed: {} {}", term.epoch(), cmd.getSourceVolumeId(), code, e.getMessage());
            List<ProducerRecord<String, byte[]>> outcome = new ArrayList<>(
                    failed(cause, spm.answer(cause, term), CopyVolume.class, TaskType.COPY_VOLUME, target, code, e.getMessage()));
            outcome.add(jobDone(term, cmd.getTaskId()));
            return outcome;
        }
    }

    /**
     * Destroys the volume and every layer; a volume already gone counts as deleted. The manager
     * refused a volume prepared on a host when the request came, but a prepare may have come
     * since: the SPM holds the volume's lease while it destroys, so a host that has it makes the
     * delete fail, and a host that asks for it meanwhile is refused.
     */
    private List<ProducerRecord<String, byte[]>> deleteVolume(DeleteVolume cmd, SpmTerm term) {
        VolumeState volume = cmd.getVolume();
        try {
            deletions.acquire(cmd.getVolumeId());
        } catch (LeaseHeldException e) {
            LOG.warn("epoch {}: volume {} not deleted: {}", term.epoch(), cmd.getVolumeId(), e.getMessage());
            return notDeleted(cmd, term, "VOLUME_IN_USE", "volume " + cmd.getVolumeId() + " is prepared on host " + e.holder().hostId()
                    + " (lease epoch " + e.holder().epoch() + "); tear it down first");
        } catch (Exception e) {
            // ZooKeeper could not say who uses the volume: better not deleted than deleted under a guest.
            return notDeleted(cmd, term, "LEASE_UNAVAILABLE", "cannot take the lease of volume " + cmd.getVolumeId() + " to delete it: " + e);
        }
        try {
            try {
                spm.driver(cmd.getDomain()).destroy(SpmDrivers.context(cmd.getDomain(), term),
                        new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId()), cmd.getWipe());
            } catch (DriverException e) {
                if (e.code() != DriverException.Code.NOT_FOUND) {
                    throw e;
                }
            } finally {
                releaseQuietly(cmd.getVolumeId());
            }
            LOG.info("epoch {}: deleted volume {}{}", term.epoch(), cmd.getVolumeId(), cmd.getWipe() ? " (wiped)" : "");
            Envelope done = spm.answer(cmd.getEnvelope(), term);
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeDeleted.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                            .setVolumeId(cmd.getVolumeId()).setDomainId(cmd.getDomain().getId()).setWiped(cmd.getWipe()).build()),
                    WorkerRecords.tombstone(Topics.VOLUME_STATE, cmd.getVolumeId()),
                    WorkerRecords.taskState(cmd.getTaskId(), TaskType.DELETE_VOLUME, volume.getDomainId(), volume.getId(),
                            cmd.getEnvelope().getTimestamp(), done, TaskStatus.SUCCEEDED, null, null, null, null),
                    jobDone(term, cmd.getTaskId()));
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            LOG.warn("epoch {}: volume {} not deleted: {} {}", term.epoch(), cmd.getVolumeId(), e.code(), e.getMessage());
            return notDeleted(cmd, term, e.code().name(), e.getMessage());
        } catch (SpmFencedException e) {
            return List.of();
        }
    }

    /** A lease left behind goes with the SPM's session; until then a prepare of the (deleted) volume is refused anyway. */
    private void releaseQuietly(String volumeId) {
        try {
            deletions.release(volumeId);
        } catch (Exception e) {
            LOG.warn("cannot release the lease of deleted volume {}: {}", volumeId, e.toString());
        }
    }

    private List<ProducerRecord<String, byte[]>> notDeleted(DeleteVolume cmd, SpmTerm term, String code, String message) {
        VolumeState volume = cmd.getVolume();
        Envelope failed = spm.answer(cmd.getEnvelope(), term);
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>(taskFailed(cmd.getEnvelope(), failed, DeleteVolume.class,
                TaskType.DELETE_VOLUME, cmd.getTaskId(), volume, code, message));
        out.add(WorkerRecords.volumeState(volume, failed, cmd.getTaskId(), VolumeStatus.READY, volume.getUri(), volume.getSnapshots(),
                code, message));
        out.add(jobDone(term, cmd.getTaskId()));
        return out;
    }

    /** True when a job's failure only means the term is over: it publishes nothing, and the next term runs it again. */
    static boolean abandoned(Exception e, Handled.JobContext context, SpmTerm term, String what) {
        if (context.cancelled() || e instanceof DriverException de && de.code() == DriverException.Code.FENCED
                || e instanceof SpmFencedException) {
            LOG.warn("epoch {}: {} abandoned, the term is over: {}", term.epoch(), what, e.getMessage());
            return true;
        }
        return false;
    }

    /** The tombstone that takes a finished job off the pool's jobs topic, committed with its outcome. */
    static ProducerRecord<String, byte[]> jobDone(SpmTerm term, String taskId) {
        return new ProducerRecord<>(Topics.spmJobs(term.pool()), taskId, null);
    }

    /** A command on an existing volume failed: the event and the task say so, the volume is as it was. */
    static List<ProducerRecord<String, byte[]>> taskFailed(Envelope command, Envelope envelope, Class<?> commandType, TaskType taskType,
                                                           String taskId, VolumeState volume, String code, String message) {
        return List.of(
                WorkerRecords.commandFailed(envelope, command, commandType.getName(), taskId, volume.getId(), code, message),
                WorkerRecords.taskState(taskId, taskType, volume.getDomainId(), volume.getId(), command.getTimestamp(), envelope,
                        TaskStatus.FAILED, null, null, code, message));
    }

    /** A command that was to make a volume failed: the volume is FAILED. */
    static List<ProducerRecord<String, byte[]>> failed(Envelope command, Envelope envelope, Class<?> commandType, TaskType taskType,
                                                       VolumeFacts volume, String code, String message) {
        return List.of(
                WorkerRecords.commandFailed(envelope, command, commandType.getName(), volume.taskId(), volume.volumeId(), code, message),
                WorkerRecords.volumeState(volume, envelope, VolumeStatus.FAILED, null, code, message),
                WorkerRecords.taskState(volume.taskId(), taskType, volume, envelope, TaskStatus.FAILED, null, null, code, message));
    }
}
