package io.storagebus.worker.spm;

import java.util.List;
import java.util.concurrent.CancellationException;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.worker.CommandTrace;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.CopyResult;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.CopyVolume;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeCopied;
import io.storagebus.schema.VolumeCopyProgress;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.WorkerRecords.VolumeFacts;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns one record of the pool's SPM command topic into what the SPM publishes for it: an event
 * and state updates, a dead letter, or, for a copy, an acceptance now and a job that publishes
 * the outcome later. The caller sends the immediate records in the same Kafka transaction as the
 * consumer offset, so each command's acceptance or outcome is published exactly once.
 */
final class SpmCommandHandler {
    private static final Logger LOG = LoggerFactory.getLogger(SpmCommandHandler.class);

    private final WorkerConfig config;
    private final DriverRegistry drivers;
    private final MessageCodec codec = MessageCodec.standard();

    SpmCommandHandler(WorkerConfig config, DriverRegistry drivers) {
        this.config = config;
        this.drivers = drivers;
    }

    Handled handle(ConsumerRecord<String, byte[]> record, SpmTerm term) {
        SpecificRecord command;
        try {
            command = codec.decode(record.value());
        } catch (UndecodableRecordException e) {
            return Handled.now(List.of(deadLetter(record, e.getMessage())));
        }
        return CommandTrace.run(command, () -> dispatch(record, command, term), Handled::records);
    }

    private Handled dispatch(ConsumerRecord<String, byte[]> record, SpecificRecord command, SpmTerm term) {
        if (command instanceof CreateVolume create && samePool(create.getEnvelope(), term)) {
            return Handled.now(createVolume(create, term));
        }
        if (command instanceof CopyVolume copy && samePool(copy.getEnvelope(), term)) {
            return copyVolume(copy, record.value(), term);
        }
        String why = command instanceof CreateVolume || command instanceof CopyVolume
                ? "command of another pool on the topic of pool " + term.pool()
                : command.getSchema().getFullName() + " is not an SPM command";
        return Handled.now(List.of(deadLetter(record, why)));
    }

    private static boolean samePool(Envelope envelope, SpmTerm term) {
        return envelope.getPool().equals(term.pool());
    }

    private List<ProducerRecord<String, byte[]>> createVolume(CreateVolume cmd, SpmTerm term) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), term.epoch());
        VolumeFacts volume = new VolumeFacts(cmd.getVolumeId(), cmd.getDomain().getId(), cmd.getName(), cmd.getVirtualSize(),
                cmd.getFormat(), cmd.getAllocation(), cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
        try {
            StorageDriver driver = driver(cmd.getDomain());
            VolumeInfo info = driver.create(context(cmd.getDomain(), term), new VolumeSpec(cmd.getVolumeId(), cmd.getName(),
                    cmd.getVirtualSize(), driverFormat(cmd.getFormat()), driverAllocation(cmd.getAllocation()),
                    cmd.getInitialSize() == null ? 0 : cmd.getInitialSize()));
            LOG.info("epoch {}: created volume {} at {}", term.epoch(), cmd.getVolumeId(), info.location());
            VolumeCreated event = VolumeCreated.newBuilder()
                    .setEnvelope(envelope).setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId())
                    .setDomainId(cmd.getDomain().getId()).setName(cmd.getName()).setVirtualSize(cmd.getVirtualSize())
                    .setFormat(cmd.getFormat()).setAllocation(cmd.getAllocation()).setUri(info.location()).setHostId(config.hostId())
                    .build();
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getVolumeId(), event),
                    WorkerRecords.volumeState(volume, envelope, VolumeStatus.READY, info.location(), null, null),
                    WorkerRecords.taskState(cmd.getTaskId(), "CREATE_VOLUME", volume, envelope, TaskStatus.SUCCEEDED, null, null, null, null));
        } catch (DriverException e) {
            StorageBusMetrics.get().driverError(cmd.getDomain().getDriver(), e.code().name());
            stopIfFenced(e, term);
            LOG.warn("epoch {}: volume {} not created: {} {}", term.epoch(), cmd.getVolumeId(), e.code(), e.getMessage());
            return failed(cmd.getEnvelope(), envelope, CreateVolume.class, "CREATE_VOLUME", volume, e.code().name(), e.getMessage());
        } catch (IllegalArgumentException e) {
            return failed(cmd.getEnvelope(), envelope, CreateVolume.class, "CREATE_VOLUME", volume, "INVALID_COMMAND", e.getMessage());
        }
    }

    /**
     * Accepts the copy in this transaction: the task goes RUNNING and the command is recorded on
     * the pool's jobs topic; the job streams the data and publishes the outcome, removing it there.
     */
    private Handled copyVolume(CopyVolume cmd, byte[] commandBytes, SpmTerm term) {
        Envelope accepted = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), term.epoch());
        List<ProducerRecord<String, byte[]>> now = List.of(
                WorkerRecords.taskState(cmd.getTaskId(), "COPY_VOLUME", copyTarget(cmd), accepted, TaskStatus.RUNNING, 0L, null, null, null),
                new ProducerRecord<>(Topics.spmJobs(term.pool()), cmd.getTaskId(), commandBytes));
        return new Handled(now, cmd.getTaskId(), context -> runCopy(cmd, term, copyTarget(cmd), context));
    }

    /**
     * A job an earlier SPM term accepted and did not finish, from the pool's jobs topic: run it
     * again from the start (a copy is idempotent by its target volume id).
     */
    Handled.LongJob resume(String taskId, byte[] commandBytes, SpmTerm term) {
        try {
            if (codec.decode(commandBytes) instanceof CopyVolume cmd && samePool(cmd.getEnvelope(), term)) {
                LOG.info("epoch {}: resuming copy task {} left by an earlier term", term.epoch(), taskId);
                return context -> runCopy(cmd, term, copyTarget(cmd), context);
            }
            LOG.warn("epoch {}: job {} on the jobs topic is not a copy of this pool; ignored", term.epoch(), taskId);
        } catch (UndecodableRecordException e) {
            LOG.warn("epoch {}: job {} on the jobs topic cannot be decoded ({}); ignored", term.epoch(), taskId, e.getMessage());
        }
        return null;
    }

    private static VolumeFacts copyTarget(CopyVolume cmd) {
        return new VolumeFacts(cmd.getTargetVolumeId(), cmd.getTarget().getId(), cmd.getTargetName(), cmd.getVirtualSize(),
                cmd.getFormat(), cmd.getAllocation(), cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
    }

    private List<ProducerRecord<String, byte[]>> runCopy(CopyVolume cmd, SpmTerm term, VolumeFacts target, Handled.JobContext context) {
        Envelope cause = cmd.getEnvelope();
        try {
            StorageDriver source = driver(cmd.getSource());
            StorageDriver targetDriver = driver(cmd.getTarget());
            VolumeSpec spec = new VolumeSpec(cmd.getTargetVolumeId(), cmd.getTargetName(), cmd.getVirtualSize(),
                    driverFormat(cmd.getFormat()), driverAllocation(cmd.getAllocation()));
            CopyResult result = source.copyTo(context(cmd.getSource(), term), new VolumeUri(cmd.getSource().getId(), cmd.getSourceVolumeId()),
                    targetDriver, context(cmd.getTarget(), term), spec, (copied, total) -> {
                        if (context.cancelled()) {
                            throw new CancellationException("the SPM term ended");
                        }
                        Envelope e = Envelopes.causedBy(cause, config.issuer(), term.epoch());
                        context.progress(List.of(
                                Records.of(Topics.EVENTS, cmd.getTargetVolumeId(), VolumeCopyProgress.newBuilder().setEnvelope(e)
                                        .setTaskId(cmd.getTaskId()).setSourceVolumeId(cmd.getSourceVolumeId())
                                        .setTargetVolumeId(cmd.getTargetVolumeId()).setCopiedBytes(copied).setTotalBytes(total).build()),
                                WorkerRecords.taskState(cmd.getTaskId(), "COPY_VOLUME", target, e, TaskStatus.RUNNING, copied, total, null, null)));
                    });
            LOG.info("epoch {}: copied volume {} to {} ({} bytes, sha256 {})", term.epoch(), cmd.getSourceVolumeId(),
                    result.target().location(), result.bytes(), result.sha256());
            Envelope done = Envelopes.causedBy(cause, config.issuer(), term.epoch());
            VolumeCopied event = VolumeCopied.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                    .setSourceVolumeId(cmd.getSourceVolumeId()).setTargetVolumeId(cmd.getTargetVolumeId())
                    .setTargetDomainId(cmd.getTarget().getId()).setUri(result.target().location()).setBytes(result.bytes())
                    .setSha256(result.sha256()).setCopyMillis(result.copyNanos() / 1_000_000).setVerifyMillis(result.verifyNanos() / 1_000_000)
                    .build();
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getTargetVolumeId(), event),
                    WorkerRecords.volumeState(target, done, VolumeStatus.READY, result.target().location(), null, null),
                    WorkerRecords.taskState(cmd.getTaskId(), "COPY_VOLUME", target, done, TaskStatus.SUCCEEDED, result.bytes(), result.bytes(), null, null),
                    jobDone(term, cmd.getTaskId()));
        } catch (DriverException | RuntimeException e) {
            if (context.cancelled() || e instanceof DriverException de && de.code() == DriverException.Code.FENCED) {
                LOG.warn("epoch {}: copy of {} abandoned, the term is over: {}", term.epoch(), cmd.getSourceVolumeId(), e.getMessage());
                return List.of();
            }
            String code = e instanceof DriverException de ? de.code().name() : "INVALID_COMMAND";
            LOG.warn("epoch {}: copy of {} failed: {} {}", term.epoch(), cmd.getSourceVolumeId(), code, e.getMessage());
            Envelope failed = Envelopes.causedBy(cause, config.issuer(), term.epoch());
            List<ProducerRecord<String, byte[]>> outcome = new java.util.ArrayList<>(
                    failed(cause, failed, CopyVolume.class, "COPY_VOLUME", target, code, e.getMessage()));
            outcome.add(jobDone(term, cmd.getTaskId()));
            return outcome;
        }
    }

    /** The tombstone that takes a finished job off the pool's jobs topic, committed with its outcome. */
    private static ProducerRecord<String, byte[]> jobDone(SpmTerm term, String taskId) {
        return new ProducerRecord<>(Topics.spmJobs(term.pool()), taskId, null);
    }

    private List<ProducerRecord<String, byte[]>> failed(Envelope command, Envelope envelope, Class<?> commandType, String taskType,
                                                        VolumeFacts volume, String code, String message) {
        return List.of(
                WorkerRecords.commandFailed(envelope, command, commandType.getName(), volume.taskId(), volume.volumeId(), code, message),
                WorkerRecords.volumeState(volume, envelope, VolumeStatus.FAILED, null, code, message),
                WorkerRecords.taskState(volume.taskId(), taskType, volume, envelope, TaskStatus.FAILED, null, null, code, message));
    }

    private StorageDriver driver(DomainRef domain) throws DriverException {
        return drivers.find(domain.getDriver()).orElseThrow(() -> new DriverException(DriverException.Code.UNSUPPORTED,
                "host " + config.hostId() + " has no driver '" + domain.getDriver() + "'"));
    }

    /** The domain under this term's epoch: the storage refuses the write if a newer term has written. */
    private static DomainContext context(DomainRef domain, SpmTerm term) {
        return new DomainContext(domain.getId(), domain.getProperties(), term.epoch());
    }

    /** A fenced write means a newer SPM is in charge: stop, and publish nothing of this command. */
    private static void stopIfFenced(DriverException e, SpmTerm term) {
        if (e.code() == DriverException.Code.FENCED) {
            throw new SpmFencedException("epoch " + term.epoch() + " fenced by the storage: " + e.getMessage(), e);
        }
    }

    private static io.storagebus.driver.VolumeFormat driverFormat(io.storagebus.schema.VolumeFormat format) {
        return io.storagebus.driver.VolumeFormat.valueOf(format.name());
    }

    private static io.storagebus.driver.Allocation driverAllocation(io.storagebus.schema.Allocation allocation) {
        return io.storagebus.driver.Allocation.valueOf(allocation.name());
    }

    private ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
        StorageBusMetrics.get().deadLettered();
        LOG.warn("dead-lettering {}-{}@{}: {}", record.topic(), record.partition(), record.offset(), reason);
        return Records.deadLetter(record, reason, config.issuer());
    }
}
