package io.storagebus.worker;

import java.nio.charset.StandardCharsets;

import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CommandFailed;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;

/** Builds the records a worker publishes: encoded, typed by header, keyed by the entity they describe. */
public final class WorkerRecords {
    private static final MessageCodec CODEC = MessageCodec.standard();

    static final String DLQ_REASON = "sb-dlq-reason";
    static final String DLQ_SOURCE = "sb-dlq-source";
    static final String DLQ_HOST = "sb-dlq-host";

    private WorkerRecords() {
    }

    public static ProducerRecord<String, byte[]> record(String topic, String key, SpecificRecord value) {
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, CODEC.encode(value));
        r.headers().add(Topics.TYPE_HEADER, value.getSchema().getFullName().getBytes(StandardCharsets.UTF_8));
        return r;
    }

    /** The volume state a command leaves a volume in. */
    public record VolumeFacts(String volumeId, String domainId, String name, long virtualSize, VolumeFormat format, Allocation allocation,
                       String taskId, java.time.Instant createdAt) {
    }

    public static ProducerRecord<String, byte[]> volumeState(VolumeFacts v, Envelope envelope, VolumeStatus status, String uri,
                                                      String code, String message) {
        return record(Topics.VOLUME_STATE, v.volumeId(), VolumeState.newBuilder()
                .setEnvelope(envelope).setId(v.volumeId()).setDomainId(v.domainId()).setName(v.name())
                .setVirtualSize(v.virtualSize()).setFormat(v.format()).setAllocation(v.allocation())
                .setStatus(status).setUri(uri).setTaskId(v.taskId()).setErrorCode(code).setErrorMessage(message)
                .setCreatedAt(v.createdAt())
                .build());
    }

    public static ProducerRecord<String, byte[]> taskState(String taskId, String type, VolumeFacts v, Envelope envelope, TaskStatus status,
                                                           Long done, Long total, String code, String message) {
        return taskState(taskId, type, v.domainId(), v.volumeId(), v.createdAt(), envelope, status, done, total, code, message);
    }

    public static ProducerRecord<String, byte[]> taskState(String taskId, String type, String domainId, String volumeId,
                                                           java.time.Instant createdAt, Envelope envelope, TaskStatus status,
                                                           Long done, Long total, String code, String message) {
        return record(Topics.TASK_STATE, taskId, TaskState.newBuilder()
                .setEnvelope(envelope).setId(taskId).setType(type).setStatus(status)
                .setDomainId(domainId).setVolumeId(volumeId).setDoneBytes(done).setTotalBytes(total)
                .setErrorCode(code).setErrorMessage(message).setCreatedAt(createdAt)
                .build());
    }

    public static ProducerRecord<String, byte[]> commandFailed(Envelope envelope, Envelope command, String commandType, String taskId,
                                                        String volumeId, String code, String message) {
        return record(Topics.EVENTS, volumeId, CommandFailed.newBuilder()
                .setEnvelope(envelope).setCommandId(command.getId()).setCommandType(commandType)
                .setTaskId(taskId).setVolumeId(volumeId).setCode(code).setMessage(message)
                .build());
    }

    /** The original bytes, untouched, with why and where they came from. */
    public static ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, String reason, String hostId) {
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(Topics.DEAD_LETTER, record.key(), record.value());
        for (Header h : record.headers()) {
            r.headers().add(h);
        }
        r.headers().add(DLQ_REASON, reason.getBytes(StandardCharsets.UTF_8));
        r.headers().add(DLQ_SOURCE, (record.topic() + "-" + record.partition() + "@" + record.offset()).getBytes(StandardCharsets.UTF_8));
        r.headers().add(DLQ_HOST, hostId.getBytes(StandardCharsets.UTF_8));
        return r;
    }
}
