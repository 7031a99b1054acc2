package io.storagebus.manager.state;

import java.time.Instant;

import io.storagebus.schema.Envelope;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.TransferInfo;

/**
 * A task that SUCCEEDED or FAILED, as the state view keeps it until the sweeper removes it: a
 * pool holds far more of them than of anything else (a million in a busy week), and they are
 * only read again, a page at a time. Every field of the record is kept but those that only mean
 * something while it runs (its message, a transfer's URL), ids compact and the few repeated
 * strings (type, pool, issuer, domain, error code) shared, so {@link #toState()} gives back the
 * record at about a third of its heap.
 */
final class FinishedTask {
    private final Object id;
    private final String type;
    private final TaskStatus status;
    private final String domainId;
    private final Object volumeId;
    private final String errorCode;
    private final String errorMessage;
    private final Long doneBytes;
    private final Long totalBytes;
    private final long createdAt;
    private final Object envelopeId;
    /** Null when it is the task's id, as it is for every task a request started. */
    private final Object correlationId;
    private final Object causationId;
    private final String pool;
    private final String issuer;
    private final long timestamp;
    private final Long spmEpoch;
    /** An image transfer's side, without its URL: the transfer ended, and its ticket with it. */
    private final TransferInfo transfer;

    private FinishedTask(Object id, TaskState t) {
        Envelope e = t.getEnvelope();
        this.id = id;
        this.type = shared(t.getType());
        this.status = t.getStatus();
        this.domainId = shared(t.getDomainId());
        this.volumeId = CompactIds.compact(t.getVolumeId());
        this.errorCode = shared(t.getErrorCode());
        this.errorMessage = t.getErrorMessage();
        this.doneBytes = t.getDoneBytes();
        this.totalBytes = t.getTotalBytes();
        this.createdAt = t.getCreatedAt().toEpochMilli();
        this.envelopeId = CompactIds.compact(e.getId());
        this.correlationId = e.getCorrelationId().equals(t.getId()) ? null : CompactIds.compact(e.getCorrelationId());
        this.causationId = CompactIds.compact(e.getCausationId());
        this.pool = shared(e.getPool());
        this.issuer = shared(e.getIssuer());
        this.timestamp = e.getTimestamp().toEpochMilli();
        this.spmEpoch = e.getSpmEpoch();
        this.transfer = t.getTransfer() == null ? null : TransferInfo.newBuilder(t.getTransfer()).setUrl(null).build();
    }

    static boolean isFinished(TaskState t) {
        return t.getStatus() == TaskStatus.SUCCEEDED || t.getStatus() == TaskStatus.FAILED;
    }

    /** {@code t}, which must be finished, under its compact {@code id}. */
    static FinishedTask of(Object id, TaskState t) {
        if (!isFinished(t)) {
            throw new IllegalArgumentException("task " + t.getId() + " is " + t.getStatus() + ", not finished");
        }
        return new FinishedTask(id, t);
    }

    long createdAt() {
        return createdAt;
    }

    String volumeId() {
        return CompactIds.expand(volumeId);
    }

    /** When the task's last record was written. */
    long timestamp() {
        return timestamp;
    }

    TaskState toState() {
        String taskId = CompactIds.expand(id);
        Envelope envelope = Envelope.newBuilder().setId(CompactIds.expand(envelopeId))
                .setCorrelationId(correlationId == null ? taskId : CompactIds.expand(correlationId))
                .setCausationId(CompactIds.expand(causationId)).setPool(pool).setIssuer(issuer)
                .setTimestamp(Instant.ofEpochMilli(timestamp)).setSpmEpoch(spmEpoch).build();
        return TaskState.newBuilder().setEnvelope(envelope).setId(taskId).setType(type).setStatus(status).setDomainId(domainId)
                .setVolumeId(CompactIds.expand(volumeId)).setErrorCode(errorCode).setErrorMessage(errorMessage)
                .setDoneBytes(doneBytes).setTotalBytes(totalBytes).setCreatedAt(Instant.ofEpochMilli(createdAt)).setTransfer(transfer).build();
    }

    /** One instance of each of the few strings that repeat across tasks (interned: a bounded set). */
    private static String shared(String s) {
        return s == null ? null : s.intern();
    }
}
