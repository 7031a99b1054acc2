package io.storagebus.worker.spm;

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
import org.apache.kafka.clients.producer.ProducerRecord;

/** Builds the records an SPM publishes: encoded, typed by header, keyed by the entity they describe. */
final class SpmRecords {
    private static final MessageCodec CODEC = MessageCodec.standard();

    private SpmRecords() {
    }

    static ProducerRecord<String, byte[]> record(String topic, String key, SpecificRecord value) {
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, CODEC.encode(value));
        r.headers().add(Topics.TYPE_HEADER, value.getSchema().getFullName().getBytes(StandardCharsets.UTF_8));
        return r;
    }

    /** The volume state a command leaves a volume in. */
    record VolumeFacts(String volumeId, String domainId, String name, long virtualSize, VolumeFormat format, Allocation allocation,
                       String taskId, java.time.Instant createdAt) {
    }

    static ProducerRecord<String, byte[]> volumeState(VolumeFacts v, Envelope envelope, VolumeStatus status, String uri,
                                                      String code, String message) {
        return record(Topics.VOLUME_STATE, v.volumeId(), VolumeState.newBuilder()
                .setEnvelope(envelope).setId(v.volumeId()).setDomainId(v.domainId()).setName(v.name())
                .setVirtualSize(v.virtualSize()).setFormat(v.format()).setAllocation(v.allocation())
                .setStatus(status).setUri(uri).setTaskId(v.taskId()).setErrorCode(code).setErrorMessage(message)
                .setCreatedAt(v.createdAt())
                .build());
    }

    static ProducerRecord<String, byte[]> taskState(String taskId, String type, VolumeFacts v, Envelope envelope, TaskStatus status,
                                                    Long done, Long total, String code, String message) {
        return record(Topics.TASK_STATE, taskId, TaskState.newBuilder()
                .setEnvelope(envelope).setId(taskId).setType(type).setStatus(status)
                .setDomainId(v.domainId()).setVolumeId(v.volumeId()).setDoneBytes(done).setTotalBytes(total)
                .setErrorCode(code).setErrorMessage(message).setCreatedAt(v.createdAt())
                .build());
    }

    static ProducerRecord<String, byte[]> commandFailed(Envelope envelope, Envelope command, String commandType, String taskId,
                                                        String volumeId, String code, String message) {
        return record(Topics.EVENTS, volumeId, CommandFailed.newBuilder()
                .setEnvelope(envelope).setCommandId(command.getId()).setCommandType(commandType)
                .setTaskId(taskId).setVolumeId(volumeId).setCode(code).setMessage(message)
                .build());
    }
}
