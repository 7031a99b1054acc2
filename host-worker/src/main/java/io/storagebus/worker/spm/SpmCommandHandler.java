package io.storagebus.worker.spm;

import java.nio.charset.StandardCharsets;
import java.util.List;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.CommandFailed;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.worker.WorkerConfig;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns one record of the pool's SPM command topic into the records the SPM publishes for it:
 * an event, state updates, or a dead letter. The caller sends them in the same Kafka
 * transaction as the consumer offset, so a command's outcome is published exactly once.
 */
final class SpmCommandHandler {
    private static final Logger LOG = LoggerFactory.getLogger(SpmCommandHandler.class);

    static final String DLQ_REASON = "sb-dlq-reason";
    static final String DLQ_SOURCE = "sb-dlq-source";
    static final String DLQ_HOST = "sb-dlq-host";

    private final WorkerConfig config;
    private final DriverRegistry drivers;
    private final MessageCodec codec = MessageCodec.standard();

    SpmCommandHandler(WorkerConfig config, DriverRegistry drivers) {
        this.config = config;
        this.drivers = drivers;
    }

    List<ProducerRecord<String, byte[]>> handle(ConsumerRecord<String, byte[]> record, SpmTerm term) {
        SpecificRecord command;
        try {
            command = codec.decode(record.value());
        } catch (UndecodableRecordException e) {
            return List.of(deadLetter(record, e.getMessage()));
        }
        if (command instanceof CreateVolume create) {
            if (!create.getEnvelope().getPool().equals(term.pool())) {
                return List.of(deadLetter(record, "command of pool " + create.getEnvelope().getPool() + " on the topic of pool " + term.pool()));
            }
            return createVolume(create, term);
        }
        return List.of(deadLetter(record, command.getSchema().getFullName() + " is not an SPM command"));
    }

    private List<ProducerRecord<String, byte[]>> createVolume(CreateVolume cmd, SpmTerm term) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), term.epoch());
        StorageDriver driver = drivers.find(cmd.getDomain().getDriver()).orElse(null);
        if (driver == null) {
            return volumeFailed(cmd, envelope, "UNKNOWN_DRIVER", "host " + config.hostId() + " has no driver '" + cmd.getDomain().getDriver() + "'");
        }
        try {
            VolumeSpec spec = new VolumeSpec(cmd.getVolumeId(), cmd.getName(), cmd.getVirtualSize(),
                    io.storagebus.driver.VolumeFormat.valueOf(cmd.getFormat().name()),
                    io.storagebus.driver.Allocation.valueOf(cmd.getAllocation().name()));
            VolumeInfo info = driver.create(new DomainContext(cmd.getDomain().getId(), cmd.getDomain().getProperties()), spec);
            LOG.info("epoch {}: created volume {} at {}", term.epoch(), cmd.getVolumeId(), info.location());
            VolumeCreated event = VolumeCreated.newBuilder()
                    .setEnvelope(envelope).setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId())
                    .setDomainId(cmd.getDomain().getId()).setName(cmd.getName()).setVirtualSize(cmd.getVirtualSize())
                    .setFormat(cmd.getFormat()).setAllocation(cmd.getAllocation()).setUri(info.location()).setHostId(config.hostId())
                    .build();
            return List.of(
                    record(Topics.EVENTS, cmd.getVolumeId(), event),
                    record(Topics.VOLUME_STATE, cmd.getVolumeId(), volumeState(cmd, envelope, VolumeStatus.READY, info.location(), null, null)),
                    record(Topics.TASK_STATE, cmd.getTaskId(), taskState(cmd, envelope, TaskStatus.SUCCEEDED, null, null)));
        } catch (DriverException e) {
            LOG.warn("epoch {}: volume {} not created: {} {}", term.epoch(), cmd.getVolumeId(), e.code(), e.getMessage());
            return volumeFailed(cmd, envelope, e.code().name(), e.getMessage());
        } catch (IllegalArgumentException e) {
            return volumeFailed(cmd, envelope, "INVALID_COMMAND", e.getMessage());
        }
    }

    private List<ProducerRecord<String, byte[]>> volumeFailed(CreateVolume cmd, Envelope envelope, String code, String message) {
        CommandFailed event = CommandFailed.newBuilder()
                .setEnvelope(envelope).setCommandId(cmd.getEnvelope().getId()).setCommandType(CreateVolume.class.getName())
                .setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId()).setCode(code).setMessage(message)
                .build();
        return List.of(
                record(Topics.EVENTS, cmd.getVolumeId(), event),
                record(Topics.VOLUME_STATE, cmd.getVolumeId(), volumeState(cmd, envelope, VolumeStatus.FAILED, null, code, message)),
                record(Topics.TASK_STATE, cmd.getTaskId(), taskState(cmd, envelope, TaskStatus.FAILED, code, message)));
    }

    private static VolumeState volumeState(CreateVolume cmd, Envelope envelope, VolumeStatus status, String uri, String code, String message) {
        return VolumeState.newBuilder()
                .setEnvelope(envelope).setId(cmd.getVolumeId()).setDomainId(cmd.getDomain().getId()).setName(cmd.getName())
                .setVirtualSize(cmd.getVirtualSize()).setFormat(cmd.getFormat()).setAllocation(cmd.getAllocation())
                .setStatus(status).setUri(uri).setTaskId(cmd.getTaskId()).setErrorCode(code).setErrorMessage(message)
                .setCreatedAt(cmd.getEnvelope().getTimestamp())
                .build();
    }

    private static TaskState taskState(CreateVolume cmd, Envelope envelope, TaskStatus status, String code, String message) {
        return TaskState.newBuilder()
                .setEnvelope(envelope).setId(cmd.getTaskId()).setType("CREATE_VOLUME").setStatus(status)
                .setDomainId(cmd.getDomain().getId()).setVolumeId(cmd.getVolumeId()).setErrorCode(code).setErrorMessage(message)
                .setCreatedAt(cmd.getEnvelope().getTimestamp())
                .build();
    }

    private ProducerRecord<String, byte[]> record(String topic, String key, SpecificRecord value) {
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, codec.encode(value));
        r.headers().add(Topics.TYPE_HEADER, value.getSchema().getFullName().getBytes(StandardCharsets.UTF_8));
        return r;
    }

    /** The original bytes, untouched, with why and where they came from. */
    private ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
        LOG.warn("dead-lettering {}-{}@{}: {}", record.topic(), record.partition(), record.offset(), reason);
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(Topics.DEAD_LETTER, record.key(), record.value());
        for (Header h : record.headers()) {
            r.headers().add(h);
        }
        r.headers().add(DLQ_REASON, reason.getBytes(StandardCharsets.UTF_8));
        r.headers().add(DLQ_SOURCE, (record.topic() + "-" + record.partition() + "@" + record.offset()).getBytes(StandardCharsets.UTF_8));
        r.headers().add(DLQ_HOST, config.hostId().getBytes(StandardCharsets.UTF_8));
        return r;
    }
}
