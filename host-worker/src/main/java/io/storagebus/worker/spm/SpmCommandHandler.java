package io.storagebus.worker.spm;

import io.storagebus.bus.TaskType;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.TopicMap;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.FencedException;
import io.storagebus.leases.SpmTerm;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.schema.BackupVolume;
import io.storagebus.schema.CancelTask;
import io.storagebus.schema.CloneVolume;
import io.storagebus.schema.CopyVolume;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DeleteBackup;
import io.storagebus.schema.DeleteSnapshot;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.GuestDiskGrown;
import io.storagebus.schema.TransferImage;
import io.storagebus.schema.UntrashVolume;
import io.storagebus.worker.transfer.TransferServer;
import io.storagebus.schema.LayerChangeDone;
import io.storagebus.schema.MirrorDone;
import io.storagebus.schema.MirrorVolume;
import io.storagebus.schema.MoveVolume;
import io.storagebus.schema.RestoreBackup;
import io.storagebus.schema.ResizeVolume;
import io.storagebus.schema.SnapshotVolume;
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
 * offline merges, moves), an acceptance now and a job that publishes the outcome later. The caller sends
 * the immediate records in the same Kafka transaction as the consumer offset, so each command's
 * acceptance or outcome is published exactly once. A job is recorded on the pool's jobs topic
 * when accepted and removed with its outcome, so a new SPM term runs unfinished jobs again.
 */
final class SpmCommandHandler {
    private static final Logger LOG = LoggerFactory.getLogger(SpmCommandHandler.class);

    private final SpmDrivers spm;
    private final SpmCommandRegistry commands;
    private final MessageCodec codec = MessageCodec.standard();

    SpmCommandHandler(SpmDrivers spm, VolumeLeases deletions, TransferServer transferServer) {
        this.spm = spm;
        VolumeCommands volumes = new VolumeCommands(spm, deletions);
        ImageTransfers transfers = new ImageTransfers(spm, deletions, transferServer, java.time.Clock.systemUTC());
        SnapshotCommands snapshots = new SnapshotCommands(spm);
        BackupJobs backups = new BackupJobs(spm);
        this.commands = new SpmCommandRegistry()
                .now(CreateVolume.class, volumes::create)
                .now(CloneVolume.class, volumes::cloneVolume)
                .now(ResizeVolume.class, volumes::resize)
                .now(GuestDiskGrown.class, volumes::guestDiskGrown)
                .now(UntrashVolume.class, volumes::untrash)
                .job(CopyVolume.class, volumes::copy)
                .job(MoveVolume.class, volumes::move)
                .job(DeleteVolume.class, volumes::delete)
                .now(SnapshotVolume.class, snapshots::snapshot)
                .jobOrNow(DeleteSnapshot.class, snapshots::offlineMerge, snapshots::beginMerge)
                .jobOrNow(LayerChangeDone.class, snapshots::offlineMerge, snapshots::layerChanged)
                .now(MirrorDone.class, volumes::mirrored)
                .job(BackupVolume.class, backups::backup)
                .job(RestoreBackup.class, backups::restore)
                .job(DeleteBackup.class, backups::delete)
                .job(TransferImage.class, transfers::transfer)
                .forTheLoop(CancelTask.class)
                .covering(TopicMap.SPM_COMMANDS)
                .continuation(MirrorVolume.class, volumes::watchMirror);
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
        Job job = commands.job(command, term);
        if (job != null) {
            List<ProducerRecord<String, byte[]>> accepted = new ArrayList<>(job.accepted());
            accepted.add(new ProducerRecord<>(Topics.spmJobs(term.pool()), job.taskId(), record.value()));
            return Handled.job(accepted, job.taskId(), job.run());
        }
        if (command instanceof CancelTask cancel) {
            return Handled.cancel(cancel.getTaskId());
        }
        return Handled.now(commands.handle(command, term));
    }

    /** The command's envelope if it is one of the SPM's, else null. */
    private Envelope envelopeOf(SpecificRecord command) {
        return commands.handles(command) ? Envelopes.of(command) : null;
    }

    /** The command types this SPM carries out. */
    Set<Class<?>> commandTypes() {
        return commands.types();
    }

    /**
     * A long command: what its acceptance publishes, and the job that carries it out and returns
     * its outcome (never throwing; nothing when the term ended under it).
     */
    record Job(String taskId, List<ProducerRecord<String, byte[]>> accepted, Handled.LongJob run) {
    }

    /** The RUNNING task of a job on an existing volume. */
    static ProducerRecord<String, byte[]> running(String taskId, TaskType type, VolumeState volume, Envelope envelope) {
        return WorkerRecords.Task.of(taskId, type, volume, envelope.getTimestamp()).running(envelope);
    }

    /**
     * A job an earlier SPM term accepted and did not finish, from the pool's jobs topic: run it
     * again from the start (every job is idempotent by what it creates or removes).
     */
    Handled.LongJob resume(String taskId, byte[] commandBytes, SpmTerm term) {
        try {
            SpecificRecord command = codec.decode(commandBytes);
            Envelope envelope = commands.resumes(command) ? Envelopes.of(command) : null;
            Job job = envelope != null && envelope.getPool().equals(term.pool()) ? commands.resumed(command, term) : null;
            if (job != null) {
                LOG.info("epoch {}: resuming {} task {} from the jobs topic", term.epoch(), command.getSchema().getName(), taskId);
                return job.run();
            }
            LOG.warn("epoch {}: job {} on the jobs topic is not a job of this pool; ignored", term.epoch(), taskId);
        } catch (UndecodableRecordException e) {
            LOG.warn("epoch {}: job {} on the jobs topic cannot be decoded ({}); ignored", term.epoch(), taskId, e.getMessage());
        }
        return null;
    }

    /** The code a failed job reports: CANCELLED when a user cancelled it, the driver's, or INVALID_COMMAND. */
    static String failureCode(Exception e, Handled.JobContext context) {
        if (context.cancelledByRequest()) {
            return "CANCELLED";
        }
        return e instanceof DriverException de ? de.code().name() : "INVALID_COMMAND";
    }

    /** Stops a copy at its next progress point when the term ended or a user cancelled the job. */
    static void stopIfCancelled(Handled.JobContext context) {
        if (context.cancelled()) {
            throw new CancellationException("the SPM term ended");
        }
        if (context.cancelledByRequest()) {
            throw new CancellationException("cancelled by request");
        }
    }

    /** True when a job's failure only means the term is over: it publishes nothing, and the next term runs it again. */
    static boolean abandoned(Exception e, Handled.JobContext context, SpmTerm term, String what) {
        if (context.cancelled() || e instanceof FencedException) {
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
                WorkerRecords.Task.of(taskId, taskType, volume, command.getTimestamp()).failed(envelope, code, message));
    }

    /** A command that was to make a volume failed: the volume is FAILED. */
    static List<ProducerRecord<String, byte[]>> failed(Envelope command, Envelope envelope, Class<?> commandType, TaskType taskType,
                                                       VolumeFacts volume, String code, String message) {
        return List.of(
                WorkerRecords.commandFailed(envelope, command, commandType.getName(), volume.taskId(), volume.volumeId(), code, message),
                WorkerRecords.volumeState(volume, envelope, VolumeStatus.FAILED, null, code, message),
                WorkerRecords.Task.of(taskType, volume).failed(envelope, code, message));
    }
}
