package io.storagebus.worker;

import io.storagebus.bus.TaskType;
import java.time.Instant;
import java.util.List;

import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CommandFailed;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TransferInfo;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import org.apache.kafka.clients.producer.ProducerRecord;

/** The state and failure records a worker publishes about volumes and tasks. */
public final class WorkerRecords {
    private WorkerRecords() {
    }

    /** The volume state a command leaves a volume in. */
    public record VolumeFacts(String volumeId, String domainId, String name, long virtualSize, VolumeFormat format, Allocation allocation,
                       String taskId, Instant createdAt) {
    }

    public static ProducerRecord<String, byte[]> volumeState(VolumeFacts v, Envelope envelope, VolumeStatus status, String uri,
                                                      String code, String message) {
        return volumeState(v, envelope, status, uri, code, message, null);
    }

    /** As above, for a copy-on-write clone of {@code parentVolumeId}. */
    public static ProducerRecord<String, byte[]> volumeState(VolumeFacts v, Envelope envelope, VolumeStatus status, String uri,
                                                             String code, String message, String parentVolumeId) {
        return Records.of(Topics.VOLUME_STATE, v.volumeId(), VolumeState.newBuilder()
                .setEnvelope(envelope).setId(v.volumeId()).setDomainId(v.domainId()).setName(v.name())
                .setVirtualSize(v.virtualSize()).setFormat(v.format()).setAllocation(v.allocation())
                .setStatus(status).setUri(uri).setTaskId(v.taskId()).setErrorCode(code).setErrorMessage(message)
                .setCreatedAt(v.createdAt()).setParentVolumeId(parentVolumeId)
                .build());
    }

    /** The volume as a command found it, changed by what the command did. */
    public static ProducerRecord<String, byte[]> volumeState(VolumeState found, Envelope envelope, String taskId, VolumeStatus status,
                                                             String uri, List<SnapshotRef> snapshots, String code, String message) {
        return Records.of(Topics.VOLUME_STATE, found.getId(), VolumeState.newBuilder(found)
                .setEnvelope(envelope).setTaskId(taskId).setStatus(status).setUri(uri).setSnapshots(snapshots)
                .setErrorCode(code).setErrorMessage(message)
                .build());
    }

    /** Takes an entity off a compacted state topic. */
    public static ProducerRecord<String, byte[]> tombstone(String topic, String key) {
        return new ProducerRecord<>(topic, key, null);
    }

    /**
     * A task a worker reports on: which it is and what it concerns. Each method is the task's
     * state record in one status, stamped with the envelope of the report.
     */
    public record Task(String taskId, TaskType type, String domainId, String volumeId, Instant createdAt) {
        /** The task of a command that makes {@code v}. */
        public static Task of(TaskType type, VolumeFacts v) {
            return new Task(v.taskId(), type, v.domainId(), v.volumeId(), v.createdAt());
        }

        /** The task of a command on an existing volume, issued at {@code createdAt}. */
        public static Task of(String taskId, TaskType type, VolumeState volume, Instant createdAt) {
            return new Task(taskId, type, volume.getDomainId(), volume.getId(), createdAt);
        }

        /** Running, with nothing to count. */
        public ProducerRecord<String, byte[]> running(Envelope envelope) {
            return record(envelope, TaskStatus.RUNNING, null, null, null, null, null);
        }

        /** Running, {@code done} bytes of {@code total} (null while unknown). */
        public ProducerRecord<String, byte[]> progress(Envelope envelope, long done, Long total) {
            return record(envelope, TaskStatus.RUNNING, done, total, null, null, null);
        }

        /** Running, {@code done} bytes of {@code total} (null while unknown), in the phase {@code message} tells people. */
        public ProducerRecord<String, byte[]> progress(Envelope envelope, long done, Long total, String message) {
            return record(envelope, TaskStatus.RUNNING, done, total, null, null, message);
        }

        public ProducerRecord<String, byte[]> succeeded(Envelope envelope) {
            return record(envelope, TaskStatus.SUCCEEDED, null, null, null, null, null);
        }

        /** Succeeded, having moved {@code bytes}. */
        public ProducerRecord<String, byte[]> succeeded(Envelope envelope, long bytes) {
            return record(envelope, TaskStatus.SUCCEEDED, bytes, bytes, null, null, null);
        }

        public ProducerRecord<String, byte[]> failed(Envelope envelope, String code, String message) {
            return record(envelope, TaskStatus.FAILED, null, null, code, message, null);
        }

        /** Running, and waiting: {@code message} says for what, for people. */
        public ProducerRecord<String, byte[]> waiting(Envelope envelope, String message) {
            return record(envelope, TaskStatus.RUNNING, null, null, null, null, message);
        }

        /** In {@code status}, with nothing counted and no error: for tasks whose status is decided elsewhere. */
        public ProducerRecord<String, byte[]> in(Envelope envelope, TaskStatus status) {
            return record(envelope, status, null, null, null, null, null);
        }

        /** An image transfer's task in {@code status}, with its transfer side (URL, image length, checksum). */
        public ProducerRecord<String, byte[]> transfer(Envelope envelope, TaskStatus status, Long done, Long total, TransferInfo transfer,
                                                       String code, String error) {
            return Records.of(Topics.TASK_STATE, taskId, builder(envelope, status, done, total, code, error, null).setTransfer(transfer).build());
        }

        private ProducerRecord<String, byte[]> record(Envelope envelope, TaskStatus status, Long done, Long total, String code,
                                                      String error, String message) {
            return Records.of(Topics.TASK_STATE, taskId, builder(envelope, status, done, total, code, error, message).build());
        }

        private TaskState.Builder builder(Envelope envelope, TaskStatus status, Long done, Long total, String code, String error, String message) {
            return TaskState.newBuilder()
                    .setEnvelope(envelope).setId(taskId).setType(type.name()).setStatus(status)
                    .setDomainId(domainId).setVolumeId(volumeId).setDoneBytes(done).setTotalBytes(total)
                    .setErrorCode(code).setErrorMessage(error).setCreatedAt(createdAt).setMessage(message);
        }
    }

    public static ProducerRecord<String, byte[]> commandFailed(Envelope envelope, Envelope command, String commandType, String taskId,
                                                        String volumeId, String code, String message) {
        return Records.of(Topics.EVENTS, volumeId, CommandFailed.newBuilder()
                .setEnvelope(envelope).setCommandId(command.getId()).setCommandType(commandType)
                .setTaskId(taskId).setVolumeId(volumeId).setCode(code).setMessage(message)
                .build());
    }
}
