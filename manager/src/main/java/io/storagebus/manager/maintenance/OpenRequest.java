package io.storagebus.manager.maintenance;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import io.storagebus.bus.Topics;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.schema.CastVote;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.DomainActivated;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.DomainStatus;
import io.storagebus.schema.DrainMove;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.MaintenanceAborted;
import io.storagebus.schema.MaintenanceCancelled;
import io.storagebus.schema.MaintenanceCompleted;
import io.storagebus.schema.MaintenanceDraining;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.MaintenanceStarted;
import io.storagebus.schema.MaintenanceState;
import io.storagebus.schema.MaintenanceStatus;
import io.storagebus.schema.MaintenanceVoter;

/**
 * A maintenance request still in play: voting, or decided and draining the domain or waiting
 * for the hosts. Knows the records each of its transitions publishes (its state, the domain's,
 * the public event, the hosts' commands), so that the coordinator only decides when.
 */
final class OpenRequest {
    final String requestId;
    final String domainId;
    final String pool;
    final String reason;
    final Instant createdAt;
    final MaintenanceBallot ballot;
    MaintenanceStatus status;
    final Set<String> hostsPending = new TreeSet<>();
    final Set<String> hostsDisconnected = new TreeSet<>();
    final Map<String, String> hostFailures = new TreeMap<>();
    Instant decidedAt;
    /** The domain a drain moves the volumes to; null: no drain. */
    final String drainTargetDomainId;
    /** DRAINING and after: the drain's moves, one per volume. */
    final List<DrainMove> moves = new ArrayList<>();
    /** Between StorageBus's own vote and the drain's start: the moves that vote found possible. */
    List<DrainMove> plannedMoves = List.of();
    List<Outgoing> plannedRecords = List.of();
    /** A transition is being published: nothing else may be decided until it is (or failed). */
    boolean publishing;
    long timer = -1;

    OpenRequest(MaintenanceState s, String pool) {
        this.requestId = s.getRequestId();
        this.domainId = s.getDomainId();
        this.pool = pool;
        this.reason = s.getReason();
        this.createdAt = s.getCreatedAt();
        this.ballot = new MaintenanceBallot(s.getVoters(), s.getVotes(), s.getDeadline());
        this.status = s.getStatus();
        this.hostsPending.addAll(s.getHostsPending());
        this.hostsDisconnected.addAll(s.getHostsDisconnected());
        this.decidedAt = s.getDecidedAt();
        this.drainTargetDomainId = s.getDrainTargetDomainId();
        this.moves.addAll(s.getMoves());
    }

    /** A new request, put to the vote of {@code voters} until {@code deadline}. */
    static OpenRequest voting(Envelope envelope, String domainId, String reason, List<MaintenanceVoter> voters, Instant now, Instant deadline,
                              String drainTargetDomainId) {
        return new OpenRequest(MaintenanceState.newBuilder()
                .setEnvelope(envelope).setRequestId(envelope.getCorrelationId()).setDomainId(domainId).setReason(reason)
                .setDeadline(deadline).setStatus(MaintenanceStatus.VOTING).setVoters(voters).setVotes(List.of())
                .setHostsPending(List.of()).setHostsDisconnected(List.of()).setCreatedAt(now).setDrainTargetDomainId(drainTargetDomainId)
                .build(), envelope.getPool());
    }

    boolean moves(String volumeId) {
        return moves.stream().anyMatch(m -> m.getVolumeId().equals(volumeId));
    }

    /** After a completed request, the domain activated: its {@code active} state, the request ENDED, the event. */
    static List<Outgoing> ended(Envelope envelope, MaintenanceState completed, DomainState active) {
        String domainId = active.getId();
        return List.of(
                new Outgoing(Topics.DOMAIN_STATE, domainId, active),
                new Outgoing(Topics.MAINTENANCE_STATE, domainId, MaintenanceState.newBuilder(completed).setEnvelope(envelope)
                        .setStatus(MaintenanceStatus.ENDED).build()),
                new Outgoing(Topics.EVENTS, domainId, DomainActivated.newBuilder().setEnvelope(envelope).setDomainId(domainId)
                        .setRequestId(completed.getRequestId()).build()));
    }

    /**
     * A host answered that it let the domain go ({@code failures} empty), or could not tear down
     * everything; true if it is no longer waited for.
     */
    boolean hostAnswered(String hostId, List<String> failures) {
        if (!failures.isEmpty()) {
            hostFailures.put(hostId, String.join("; ", failures));
            return false;
        }
        hostFailures.remove(hostId);
        hostsPending.remove(hostId);
        hostsDisconnected.add(hostId);
        return true;
    }

    MaintenanceState snapshot(Envelope envelope, MaintenanceStatus status) {
        return MaintenanceState.newBuilder()
                .setEnvelope(envelope).setRequestId(requestId).setDomainId(domainId).setReason(reason)
                .setDeadline(ballot.deadline()).setStatus(status).setVoters(ballot.voters()).setVotes(ballot.votes())
                .setHostsPending(List.copyOf(hostsPending)).setHostsDisconnected(List.copyOf(hostsDisconnected))
                .setCreatedAt(createdAt).setDecidedAt(decidedAt).setDrainTargetDomainId(drainTargetDomainId).setMoves(List.copyOf(moves))
                .build();
    }

    /** Opened: the request to vote on, and its announcement to the subscribers. */
    List<Outgoing> requested(Envelope envelope, String domainName) {
        MaintenanceState voting = snapshot(envelope, MaintenanceStatus.VOTING);
        return List.of(new Outgoing(Topics.MAINTENANCE_STATE, domainId, voting), new Outgoing(Topics.EVENTS, domainId,
                MaintenanceRequested.newBuilder().setEnvelope(envelope).setRequestId(requestId).setDomainId(domainId).setDomainName(domainName)
                        .setReason(reason).setDeadline(voting.getDeadline()).setVoters(voting.getVoters())
                        .setDrainTargetDomainId(drainTargetDomainId).build()));
    }

    List<Outgoing> cancelled(Envelope envelope) {
        return List.of(new Outgoing(Topics.MAINTENANCE_STATE, domainId, snapshot(envelope, MaintenanceStatus.CANCELLED)),
                new Outgoing(Topics.EVENTS, domainId, MaintenanceCancelled.newBuilder().setEnvelope(envelope).setRequestId(requestId)
                        .setDomainId(domainId).build()));
    }

    List<Outgoing> aborted(Envelope envelope, List<CastVote> vetoes) {
        return List.of(new Outgoing(Topics.MAINTENANCE_STATE, domainId, snapshot(envelope, MaintenanceStatus.ABORTED)),
                new Outgoing(Topics.EVENTS, domainId, MaintenanceAborted.newBuilder().setEnvelope(envelope)
                        .setRequestId(requestId).setDomainId(domainId).setVetoes(vetoes).build()));
    }

    /**
     * Draining: the domain PREPARING_FOR_MAINTENANCE (no new volume operations), the planned moves
     * (each its command, task and MOVING volume), the request DRAINING with them, the event.
     */
    List<Outgoing> draining(Envelope envelope, DomainState domain, List<CastVote> consents) {
        List<Outgoing> records = new ArrayList<>();
        records.add(new Outgoing(Topics.DOMAIN_STATE, domainId, withStatus(domain, envelope, DomainStatus.PREPARING_FOR_MAINTENANCE)));
        records.add(new Outgoing(Topics.MAINTENANCE_STATE, domainId, MaintenanceState.newBuilder(snapshot(envelope, MaintenanceStatus.DRAINING))
                .setMoves(plannedMoves).build()));
        records.add(new Outgoing(Topics.EVENTS, domainId, MaintenanceDraining.newBuilder().setEnvelope(envelope).setRequestId(requestId)
                .setDomainId(domainId).setTargetDomainId(drainTargetDomainId).setMoves(plannedMoves).setVotes(consents).build()));
        records.addAll(plannedRecords);
        return records;
    }

    /** A drain that could not move a volume: the request ABORTED with StorageBus's veto, the domain ACTIVE again. */
    List<Outgoing> drainAborted(Envelope envelope, DomainState domain, CastVote veto) {
        return List.of(
                new Outgoing(Topics.DOMAIN_STATE, domainId, withStatus(domain, envelope, DomainStatus.ACTIVE)),
                new Outgoing(Topics.MAINTENANCE_STATE, domainId, snapshot(envelope, MaintenanceStatus.ABORTED)),
                new Outgoing(Topics.EVENTS, domainId, MaintenanceAborted.newBuilder().setEnvelope(envelope)
                        .setRequestId(requestId).setDomainId(domainId).setVetoes(List.of(veto)).build()));
    }

    /** Started: the domain PREPARING_FOR_MAINTENANCE, and every host of the pool told to let it go. */
    List<Outgoing> started(Envelope envelope, DomainState domain, List<String> poolHosts, List<CastVote> consents) {
        DomainRef ref = DomainRef.newBuilder().setId(domain.getId()).setDriver(domain.getDriver()).setProperties(domain.getProperties()).build();
        List<Outgoing> records = new ArrayList<>();
        records.add(new Outgoing(Topics.DOMAIN_STATE, domainId, withStatus(domain, envelope, DomainStatus.PREPARING_FOR_MAINTENANCE)));
        records.add(new Outgoing(Topics.MAINTENANCE_STATE, domainId, snapshot(envelope, MaintenanceStatus.PREPARING)));
        records.add(new Outgoing(Topics.EVENTS, domainId, MaintenanceStarted.newBuilder().setEnvelope(envelope)
                .setRequestId(requestId).setDomainId(domainId).setVotes(consents).setHosts(poolHosts).build()));
        for (String host : poolHosts) {
            records.add(new Outgoing(Topics.hostCommands(host), domainId, DisconnectDomain.newBuilder().setEnvelope(envelope)
                    .setRequestId(requestId).setDomain(ref).setHostId(host).build()));
        }
        return records;
    }

    /** Completed: no host uses the domain, which is in MAINTENANCE. */
    List<Outgoing> completed(Envelope envelope, DomainState domain) {
        return List.of(
                new Outgoing(Topics.DOMAIN_STATE, domainId, withStatus(domain, envelope, DomainStatus.MAINTENANCE)),
                new Outgoing(Topics.MAINTENANCE_STATE, domainId, snapshot(envelope, MaintenanceStatus.COMPLETED)),
                new Outgoing(Topics.EVENTS, domainId, MaintenanceCompleted.newBuilder().setEnvelope(envelope)
                        .setRequestId(requestId).setDomainId(domainId).setHosts(List.copyOf(hostsDisconnected)).build()));
    }

    static DomainState withStatus(DomainState domain, Envelope envelope, DomainStatus status) {
        return DomainState.newBuilder(domain).setEnvelope(envelope).setStatus(status).build();
    }
}
