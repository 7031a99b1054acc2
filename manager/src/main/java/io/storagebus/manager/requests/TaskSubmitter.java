package io.storagebus.manager.requests;

import java.util.ArrayList;
import java.util.List;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.TaskType;
import io.storagebus.bus.Topics;
import io.storagebus.manager.bus.CommandBus;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeState;
import io.vertx.core.Future;
import org.apache.avro.specific.SpecificRecord;

/**
 * Publishes what a request decided: the command, its PENDING task and the state it implies, in
 * one Kafka transaction. New state records (a volume being made, the task) are reserved in the
 * view first, so a concurrent request sees the name taken and the client reads its own write at
 * once; a failed publication takes the reservations back.
 */
public record TaskSubmitter(StateView view, ActiveRole role) {
    /** A command for the SPM of its envelope's pool that makes a new volume, with the volume's CREATING state. */
    public Future<Submitted> newVolume(TaskType type, VolumeState creating, SpecificRecord command) {
        return spmTask(type, creating.getDomainId(), creating.getId(), command,
                List.of(new Outgoing(Topics.VOLUME_STATE, creating.getId(), creating)), List.of());
    }

    /**
     * A command for the SPM of its envelope's pool, whose correlation id is the task's id;
     * {@code newState} records are reserved, {@code updates} of existing state go in the same
     * transaction.
     */
    public Future<Submitted> spmTask(TaskType type, String domainId, String volumeId, SpecificRecord command,
                                     List<Outgoing> newState, List<Outgoing> updates) {
        return spmTask(pending(type, Envelopes.of(command), domainId, volumeId), command, newState, updates);
    }

    /** As above, with the PENDING task made by the caller (a transfer's carries its transfer side). */
    public Future<Submitted> spmTask(TaskState task, SpecificRecord command, List<Outgoing> newState, List<Outgoing> updates) {
        List<Outgoing> reserved = new ArrayList<>(newState);
        reserved.add(new Outgoing(Topics.TASK_STATE, task.getId(), task));
        List<Outgoing> rest = new ArrayList<>(List.of(new Outgoing(Topics.spmCommands(Envelopes.of(command).getPool()), task.getVolumeId(),
                command)));
        rest.addAll(updates);
        return publishNew(reserved, rest).map(v -> new Submitted(task.getId(), task.getVolumeId()));
    }

    /** A command for one host (prepare, tear down), whose correlation id is the task's id. */
    public Future<Submitted> hostTask(TaskType type, String domainId, String volumeId, String hostId, SpecificRecord command) {
        TaskState task = pending(type, Envelopes.of(command), domainId, volumeId);
        return publishNew(List.of(new Outgoing(Topics.TASK_STATE, task.getId(), task)),
                List.of(new Outgoing(Topics.hostCommands(hostId), volumeId, command)))
                .map(v -> new Submitted(task.getId(), volumeId).with("hostId", hostId));
    }

    /**
     * Shows {@code newState} in the view at once, publishes it with {@code rest} in one
     * transaction, and takes the reservations back if that fails. A record whose key the view
     * already has means a concurrent request made it first: nothing is published.
     */
    public Future<Void> publishNew(List<Outgoing> newState, List<Outgoing> rest) {
        CommandBus bus = role.bus(); // a standby refuses before reserving anything
        List<SpecificRecord> reserved = new ArrayList<>();
        for (Outgoing o : newState) {
            if (!view.reserve(o.value())) {
                reserved.forEach(view::release);
                return Future.failedFuture(new Conflict("CONFLICT", "the resource changed concurrently; retry", null));
            }
            reserved.add(o.value());
        }
        List<Outgoing> all = new ArrayList<>(newState);
        all.addAll(rest);
        return bus.publish(all).onFailure(e -> reserved.forEach(view::release));
    }

    /** The PENDING task of a command published with other records (see {@link VolumeRequests#drainMove}). */
    static Outgoing pendingTask(TaskType type, Envelope envelope, String domainId, String volumeId) {
        TaskState task = pending(type, envelope, domainId, volumeId);
        return new Outgoing(Topics.TASK_STATE, task.getId(), task);
    }

    static TaskState pending(TaskType type, Envelope envelope, String domainId, String volumeId) {
        return TaskState.newBuilder().setEnvelope(envelope).setId(envelope.getCorrelationId()).setType(type.name())
                .setStatus(TaskStatus.PENDING).setDomainId(domainId).setVolumeId(volumeId).setCreatedAt(envelope.getTimestamp()).build();
    }
}
