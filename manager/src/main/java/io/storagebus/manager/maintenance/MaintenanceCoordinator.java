package io.storagebus.manager.maintenance;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Topics;
import io.storagebus.leases.HostDirectory;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.manager.requests.RequestException;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.Invalid;
import io.storagebus.manager.requests.RequestException.NotFound;
import io.storagebus.manager.bus.CommandBus;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.bus.DeadLetters;
import io.storagebus.manager.state.StateView;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.CastVote;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.DomainDisconnected;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.DomainStatus;
import io.storagebus.schema.DrainMove;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.MaintenanceState;
import io.storagebus.schema.MaintenanceStatus;
import io.storagebus.schema.MaintenanceVote;
import io.storagebus.schema.MaintenanceVoteCounted;
import io.storagebus.schema.MaintenanceVoter;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.schema.VoteDecision;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the maintenance protocol of every domain: publishes a request to the subscribers alive at
 * that moment, counts their votes from {@code storagebus.maintenance}, decides (see
 * {@link MaintenanceBallot}), moves the domain's volumes away first if the request asks for a
 * drain, has every host of the pool disconnect, and puts the domain in MAINTENANCE once they all
 * did. Every transition is one Kafka transaction: the request's state,
 * the domain's state, the public event and the host commands commit together.
 *
 * <p>Nothing is kept outside Kafka: on start, open requests come from the maintenance state topic
 * and their votes and host answers from replaying {@code storagebus.maintenance}, so a manager
 * restarted in the middle of a vote counts what was cast meanwhile and decides as it would have.
 *
 * <p>One lock guards the open requests: REST handlers, the reply follower, timers and the host
 * directory all come in here, each for microseconds, never across a Kafka round trip.
 */
public final class MaintenanceCoordinator implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MaintenanceCoordinator.class);
    private static final long RETRY_MS = 1000;

    /** What GET shows: the request as it stands, and hosts that failed to disconnect. */
    public record Snapshot(MaintenanceState state, Map<String, String> hostFailures) {
    }

    private final Vertx vertx;
    private final String issuer;
    private final StateView view;
    private final CommandBus bus;
    private final SubscriberRegistry subscribers;
    private final HostDirectory hosts;
    private final MaintenanceReplies replies;
    private final DrainMoves drainMoves;
    private final java.util.function.Consumer<String> volumeActivity = this::onVolumeActivity;
    /**
     * The volumes open drains move, read on the view's thread: every state record of every
     * volume comes through the view's callback, and only these need the coordinator.
     */
    private final Set<String> drainingVolumes = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Lifecycle lifecycle = new Lifecycle("maintenance coordinator");
    private final Map<String, OpenRequest> byDomain = new HashMap<>();
    private final Map<String, OpenRequest> byRequest = new HashMap<>();

    public MaintenanceCoordinator(Vertx vertx, String managerId, KafkaConnection kafka, StateView view, CommandBus bus,
                                  SubscriberRegistry subscribers, HostDirectory hosts, DeadLetters deadLetters, DrainMoves drainMoves) {
        this.vertx = vertx;
        this.issuer = "manager:" + managerId;
        this.view = view;
        this.bus = bus;
        this.subscribers = subscribers;
        this.hosts = hosts;
        this.drainMoves = drainMoves;
        this.replies = new MaintenanceReplies(kafka, deadLetters, this::onVote, this::onDisconnected);
    }

    /**
     * Takes up the requests the state topic says are open, replays their replies, then decides
     * what can be decided. The state view must have caught up.
     */
    public CompletableFuture<Void> start() {
        lifecycle.start();
        synchronized (this) {
            for (MaintenanceState s : view.maintenance()) {
                if (s.getStatus() == MaintenanceStatus.VOTING || s.getStatus() == MaintenanceStatus.DRAINING
                        || s.getStatus() == MaintenanceStatus.PREPARING) {
                    track(new OpenRequest(s, s.getEnvelope().getPool()));
                    LOG.info("maintenance {} of domain {} resumed ({})", s.getRequestId(), s.getDomainId(), s.getStatus());
                }
            }
        }
        hosts.addDepartureListener(this::onHostGone);
        view.onVolumeActivity(volumeActivity);
        replies.start();
        return replies.caughtUp().thenRun(() -> {
            synchronized (this) {
                for (OpenRequest open : List.copyOf(byDomain.values())) {
                    if (open.status == MaintenanceStatus.VOTING) {
                        armDeadline(open);
                        evaluate(open);
                    } else if (open.status == MaintenanceStatus.DRAINING) {
                        checkDrain(open);
                    } else {
                        Set<String> registered = new TreeSet<>(hosts.all().stream().map(HostDirectory.Host::hostId).toList());
                        List.copyOf(open.hostsPending).stream().filter(h -> !registered.contains(h)).forEach(h -> hostGone(open, h));
                        completeIfDisconnected(open);
                    }
                }
            }
        });
    }

    /**
     * Opens a vote on taking the domain into maintenance; completes once the request is
     * published. With {@code drainTargetDomainId}, every volume of the domain is moved there
     * once the vote passes, before the hosts let the domain go.
     */
    public synchronized Future<Snapshot> request(String domainId, String reason, Duration votingTime, String drainTargetDomainId) {
        DomainState domain = activeDomain(domainId);
        if (drainTargetDomainId != null) {
            requireDrainTarget(domain, drainTargetDomainId);
        }
        OpenRequest existing = byDomain.get(domainId);
        if (existing != null) {
            throw new Conflict("MAINTENANCE_IN_PROGRESS", "domain '" + domain.getName() + "' has maintenance request "
                    + existing.requestId + " " + existing.status + "; cancel it or wait for its decision", null);
        }
        Instant now = Instant.now();
        List<MaintenanceVoter> voters = new ArrayList<>();
        subscribers.alive(now).forEach(s -> voters.add(MaintenanceVoter.newBuilder()
                .setSubscriberId(s.id()).setDescription(s.description()).setSilence(s.silence()).build()));
        voters.add(MaintenanceBallot.selfVoter());
        String requestId = UUID.randomUUID().toString();
        Envelope envelope = Envelopes.origin(domain.getEnvelope().getPool(), issuer, requestId);
        OpenRequest open = OpenRequest.voting(envelope, domainId, reason, voters, now, now.plus(votingTime), drainTargetDomainId);
        open.publishing = true;
        track(open);
        return bus.publish(open.requested(envelope, domain.getName()))
                .map(v -> {
                    synchronized (this) {
                        open.publishing = false;
                        LOG.info("maintenance {} of domain {} requested ({}), {} voters, deadline {}", requestId, domainId, reason,
                                voters.size(), open.ballot.deadline());
                        armDeadline(open);
                        evaluate(open);
                        return snapshot(open);
                    }
                })
                .onFailure(e -> {
                    synchronized (this) {
                        untrack(open);
                    }
                });
    }

    private void requireDrainTarget(DomainState domain, String targetId) {
        String field = "drain.targetDomainId";
        DomainState target = view.domain(targetId).orElseThrow(() -> new Invalid(field, "UNKNOWN_DOMAIN", "no domain with id '" + targetId + "'"));
        if (target.getId().equals(domain.getId())) {
            throw new Invalid(field, "SAME_DOMAIN", "a domain cannot be drained into itself");
        }
        if (!target.getEnvelope().getPool().equals(domain.getEnvelope().getPool())) {
            throw new Invalid(field, "CROSS_POOL", "domain '" + target.getName() + "' is in pool '" + target.getEnvelope().getPool()
                    + "', domain '" + domain.getName() + "' in pool '" + domain.getEnvelope().getPool() + "': volumes move within a pool");
        }
        if (target.getStatus() != DomainStatus.ACTIVE || byDomain.containsKey(targetId)) {
            throw new Conflict("DOMAIN_IN_MAINTENANCE", "domain '" + target.getName() + "' is " + target.getStatus()
                    + (byDomain.containsKey(targetId) ? " with maintenance " + byDomain.get(targetId).status : "")
                    + "; a drain needs an active target", field);
        }
    }

    /** Withdraws a request that is still being voted on. */
    public synchronized Future<Snapshot> cancel(String domainId) {
        OpenRequest open = byDomain.get(domainId);
        if (open == null) {
            throw new NotFound("NO_MAINTENANCE_REQUEST", "domain " + domainId + " has no open maintenance request");
        }
        if (open.status != MaintenanceStatus.VOTING || open.publishing) {
            throw new Conflict("NOT_CANCELLABLE", "maintenance request " + open.requestId + " is "
                    + (open.publishing ? "being published or decided" : "decided (" + open.status + ")") + "; it can no longer be cancelled", null);
        }
        Envelope envelope = Envelopes.origin(open.pool, issuer, open.requestId);
        List<Outgoing> records = open.cancelled(envelope);
        MaintenanceState cancelled = (MaintenanceState) records.get(0).value();
        open.publishing = true;
        return publishAndApply(records)
                .map(v -> {
                    synchronized (this) {
                        untrack(open);
                        LOG.info("maintenance {} of domain {} cancelled", open.requestId, domainId);
                        StorageBusMetrics.get().maintenanceDecided("CANCELLED");
                        return new Snapshot(cancelled, Map.of());
                    }
                })
                .onFailure(e -> {
                    synchronized (this) {
                        open.publishing = false;
                    }
                });
    }

    /** Takes a domain out of maintenance. */
    public synchronized Future<DomainState> activate(String domainId) {
        DomainState domain = view.domain(domainId).orElseThrow(() -> new NotFound("DOMAIN_NOT_FOUND", "no domain with id '" + domainId + "'"));
        MaintenanceState last = view.maintenance(domainId).orElse(null);
        if (domain.getStatus() != DomainStatus.MAINTENANCE || last == null || byDomain.containsKey(domainId)) {
            throw new Conflict("NOT_IN_MAINTENANCE", "domain '" + domain.getName() + "' is " + domain.getStatus()
                    + (byDomain.containsKey(domainId) ? " with maintenance " + byDomain.get(domainId).status : "") + ", not in MAINTENANCE", null);
        }
        Envelope envelope = Envelopes.origin(domain.getEnvelope().getPool(), issuer, last.getRequestId());
        DomainState active = OpenRequest.withStatus(domain, envelope, DomainStatus.ACTIVE);
        return publishAndApply(OpenRequest.ended(envelope, last, active))
                .map(v -> {
                    LOG.info("domain {} '{}' activated after maintenance {}", domainId, domain.getName(), last.getRequestId());
                    return active;
                });
    }

    /** The domain's maintenance request: the open one as it stands, else the last one published. */
    public synchronized Optional<Snapshot> current(String domainId) {
        OpenRequest open = byDomain.get(domainId);
        if (open != null) {
            return Optional.of(snapshot(open));
        }
        return view.maintenance(domainId).map(s -> new Snapshot(s, Map.of()));
    }

    /** Why volume operations on the domain are refused now, if they are. */
    public synchronized Optional<String> refusesVolumeOperations(String domainId) {
        OpenRequest open = byDomain.get(domainId);
        if (open != null && open.status == MaintenanceStatus.PREPARING) {
            return Optional.of("is being taken into maintenance (request " + open.requestId + ")");
        }
        if (open != null && open.status == MaintenanceStatus.DRAINING) {
            return Optional.of("is being drained into another domain for maintenance (request " + open.requestId + ")");
        }
        return view.domain(domainId).filter(d -> d.getStatus() == DomainStatus.MAINTENANCE || d.getStatus() == DomainStatus.PREPARING_FOR_MAINTENANCE)
                .map(d -> "is in " + d.getStatus());
    }

    private Snapshot snapshot(OpenRequest open) {
        return new Snapshot(open.snapshot(Envelopes.origin(open.pool, issuer, open.requestId), open.status), Map.copyOf(open.hostFailures));
    }

    private DomainState activeDomain(String domainId) {
        DomainState domain = view.domain(domainId).orElseThrow(() -> new NotFound("DOMAIN_NOT_FOUND", "no domain with id '" + domainId + "'"));
        if (domain.getStatus() == DomainStatus.MAINTENANCE) {
            throw new Conflict("DOMAIN_IN_MAINTENANCE", "domain '" + domain.getName() + "' is in maintenance already", null);
        }
        return domain;
    }

    private void track(OpenRequest open) {
        byDomain.put(open.domainId, open);
        byRequest.put(open.requestId, open);
        open.moves.forEach(m -> drainingVolumes.add(m.getVolumeId()));
    }

    private void untrack(OpenRequest open) {
        byDomain.remove(open.domainId, open);
        byRequest.remove(open.requestId, open);
        open.moves.forEach(m -> drainingVolumes.remove(m.getVolumeId()));
        if (open.timer >= 0) {
            vertx.cancelTimer(open.timer);
        }
    }

    /**
     * Decides at the deadline. Timers run on the monotonic clock and the deadline is wall-clock
     * time; if the timer comes early by the wall clock, it is armed again for what is left.
     */
    private void armDeadline(OpenRequest open) {
        long delay = Math.max(1, Duration.between(Instant.now(), open.ballot.deadline()).toMillis() + 1);
        open.timer = vertx.setTimer(delay, id -> {
            synchronized (this) {
                open.timer = -1;
                evaluate(open);
                if (open.status == MaintenanceStatus.VOTING && byRequest.get(open.requestId) == open
                        && Instant.now().isBefore(open.ballot.deadline())) {
                    armDeadline(open);
                }
            }
        });
    }

    /** Decides the request if its votes (or its deadline) allow; retried after a failed publication. */
    private void evaluate(OpenRequest open) {
        if (!lifecycle.isStarted() || open.publishing || open.status != MaintenanceStatus.VOTING || !replies.isCaughtUp()
                || byRequest.get(open.requestId) != open) {
            return;
        }
        MaintenanceBallot.Outcome outcome = open.ballot.decide(Instant.now(), () -> selfVeto(open));
        if (outcome instanceof MaintenanceBallot.Abort abort) {
            abort(open, abort.vetoes());
        } else if (outcome instanceof MaintenanceBallot.Start start && open.drainTargetDomainId != null) {
            drain(open, start.consents());
        } else if (outcome instanceof MaintenanceBallot.Start start) {
            start(open, start.consents());
        }
    }

    /**
     * StorageBus's own vote: a veto while tasks run on the domain, while it is the target of
     * another request's drain, or, for a drain, while one of its volumes cannot be moved to the
     * target. A drain's moves are planned here, at the last moment before the decision.
     */
    private Optional<String> selfVeto(OpenRequest open) {
        Optional<String> running = MaintenanceBallot.selfVeto(view.runningTasks(), open.domainId);
        if (running.isPresent()) {
            return running;
        }
        Optional<OpenRequest> drainingHere = byDomain.values().stream()
                .filter(o -> open.domainId.equals(o.drainTargetDomainId) && o != open).findFirst();
        if (drainingHere.isPresent()) {
            return Optional.of("domain " + drainingHere.get().domainId + " is to be drained into this domain (request "
                    + drainingHere.get().requestId + ", " + drainingHere.get().status + ")");
        }
        return open.drainTargetDomainId == null ? Optional.empty() : planDrain(open);
    }

    private Optional<String> planDrain(OpenRequest open) {
        DomainState target = view.domain(open.drainTargetDomainId).orElse(null);
        if (target == null || target.getStatus() != DomainStatus.ACTIVE) {
            return Optional.of("the drain's target domain " + open.drainTargetDomainId + " is "
                    + (target == null ? "gone" : target.getStatus().name()));
        }
        List<DrainMove> moves = new ArrayList<>();
        List<Outgoing> records = new ArrayList<>();
        List<String> refusals = new ArrayList<>();
        for (VolumeState volume : view.volumesOf(open.domainId)) {
            if (volume.getStatus() == VolumeStatus.FAILED) {
                continue; // a create that failed: nothing on the storage to move
            }
            String taskId = UUID.randomUUID().toString();
            try {
                records.addAll(drainMoves.start(volume, target, Envelopes.origin(open.pool, issuer, taskId)));
                moves.add(DrainMove.newBuilder().setVolumeId(volume.getId()).setTaskId(taskId).build());
            } catch (RequestException e) {
                refusals.add("'" + volume.getName() + "': " + e.getMessage());
            }
        }
        if (!refusals.isEmpty()) {
            return Optional.of(refusals.size() + " volume(s) cannot be moved to domain '" + target.getName() + "': "
                    + String.join("; ", refusals.subList(0, Math.min(10, refusals.size()))) + (refusals.size() > 10 ? "; ..." : ""));
        }
        open.plannedMoves = moves;
        open.plannedRecords = records;
        return Optional.empty();
    }

    /** The request's domain, or null, the request dropped, when the domain is gone. */
    private DomainState domainOrDrop(OpenRequest open) {
        DomainState domain = view.domain(open.domainId).orElse(null);
        if (domain == null) {
            LOG.warn("maintenance {}: domain {} is gone; dropping the request", open.requestId, open.domainId);
            untrack(open);
        }
        return domain;
    }

    /** Decided, with a drain: every volume's move starts in the transaction that says so. */
    private void drain(OpenRequest open, List<CastVote> consents) {
        DomainState domain = domainOrDrop(open);
        if (domain == null) {
            return;
        }
        Envelope envelope = Envelopes.origin(open.pool, issuer, open.requestId);
        open.decidedAt = envelope.getTimestamp();
        List<DrainMove> moves = open.plannedMoves;
        publishTransition(open, open.draining(envelope, domain, consents), () -> {
            open.status = MaintenanceStatus.DRAINING;
            open.moves.addAll(moves);
            moves.forEach(m -> drainingVolumes.add(m.getVolumeId()));
            open.plannedRecords = List.of();
            StorageBusMetrics.get().maintenanceDecided("DRAINING");
            LOG.info("maintenance {} of domain {} started with a drain: {} volume(s) move to domain {}", open.requestId, open.domainId,
                    moves.size(), open.drainTargetDomainId);
            checkDrain(open);
        });
    }

    /** A drain's next step once its moves' tasks say so: the hosts let the domain go when all moved; a failed move aborts. */
    private void checkDrain(OpenRequest open) {
        if (open.status != MaintenanceStatus.DRAINING || open.publishing || byRequest.get(open.requestId) != open) {
            return;
        }
        for (DrainMove move : open.moves) {
            Optional<TaskState> task = view.task(move.getTaskId());
            if (task.isPresent() && task.get().getStatus() == TaskStatus.FAILED) {
                drainFailed(open, move, task.get());
                return;
            }
            if (task.isEmpty() || task.get().getStatus() != TaskStatus.SUCCEEDED) {
                return;
            }
        }
        LOG.info("maintenance {}: every volume of domain {} moved to domain {}", open.requestId, open.domainId, open.drainTargetDomainId);
        start(open, open.ballot.votes().stream().filter(v -> v.getDecision() == VoteDecision.CONSENT).toList());
    }

    private void drainFailed(OpenRequest open, DrainMove move, TaskState task) {
        DomainState domain = view.domain(open.domainId).orElse(null);
        if (domain == null) {
            untrack(open);
            return;
        }
        String name = view.volume(move.getVolumeId()).map(VolumeState::getName).orElse(move.getVolumeId());
        long moved = open.moves.stream().filter(m -> view.task(m.getTaskId()).map(t -> t.getStatus() == TaskStatus.SUCCEEDED).orElse(false))
                .count();
        Envelope envelope = Envelopes.origin(open.pool, issuer, open.requestId);
        CastVote veto = CastVote.newBuilder().setSubscriberId(MaintenanceBallot.STORAGEBUS).setDecision(VoteDecision.VETO).setSilent(false)
                .setAt(envelope.getTimestamp()).setReason("volume '" + name + "' could not be moved to domain " + open.drainTargetDomainId
                        + " (task " + task.getId() + "): " + task.getErrorCode() + " " + task.getErrorMessage() + "; the " + moved
                        + " volume(s) moved before stay there").build();
        publishTransition(open, open.drainAborted(envelope, domain, veto), () -> {
            untrack(open);
            StorageBusMetrics.get().maintenanceDecided("ABORTED");
            LOG.warn("maintenance {} of domain {} aborted: {}", open.requestId, open.domainId, veto.getReason());
        });
    }

    private void abort(OpenRequest open, List<CastVote> vetoes) {
        Envelope envelope = Envelopes.origin(open.pool, issuer, open.requestId);
        open.decidedAt = envelope.getTimestamp();
        publishTransition(open, open.aborted(envelope, vetoes), () -> {
            untrack(open);
            StorageBusMetrics.get().maintenanceDecided("ABORTED");
            LOG.info("maintenance {} of domain {} aborted: {}", open.requestId, open.domainId,
                    vetoes.stream().map(v -> v.getSubscriberId() + ": " + v.getReason()).toList());
        });
    }

    private void start(OpenRequest open, List<CastVote> consents) {
        DomainState domain = domainOrDrop(open);
        if (domain == null) {
            return;
        }
        Envelope envelope = Envelopes.origin(open.pool, issuer, open.requestId);
        List<String> poolHosts = hosts.all().stream().filter(h -> h.pool().equals(open.pool)).map(HostDirectory.Host::hostId).toList();
        if (open.decidedAt == null) {
            open.decidedAt = envelope.getTimestamp();
        }
        open.hostsPending.addAll(poolHosts);
        List<Outgoing> records = open.started(envelope, domain, poolHosts, consents);
        publishTransition(open, records, () -> {
            open.status = MaintenanceStatus.PREPARING;
            StorageBusMetrics.get().maintenanceDecided("STARTED");
            LOG.info("maintenance {} of domain {} started; hosts to disconnect: {}", open.requestId, open.domainId, poolHosts);
            completeIfDisconnected(open);
        });
    }

    private void completeIfDisconnected(OpenRequest open) {
        if (open.status != MaintenanceStatus.PREPARING || open.publishing || !open.hostsPending.isEmpty() || byRequest.get(open.requestId) != open) {
            return;
        }
        DomainState domain = view.domain(open.domainId).orElse(null);
        if (domain == null) {
            untrack(open);
            return;
        }
        Envelope envelope = Envelopes.origin(open.pool, issuer, open.requestId);
        publishTransition(open, open.completed(envelope, domain), () -> {
            untrack(open);
            StorageBusMetrics.get().maintenanceDecided("COMPLETED");
            LOG.info("domain {} is in maintenance (request {}); hosts disconnected: {}", open.domainId, open.requestId, open.hostsDisconnected);
        });
    }

    /**
     * Publishes one transition; applies it once committed. If Kafka did not take it, nothing
     * changed, and the same decision is tried again a second later.
     */
    private void publishTransition(OpenRequest open, List<Outgoing> records, Runnable committed) {
        open.publishing = true;
        publishAndApply(records).onComplete(ar -> {
            synchronized (this) {
                open.publishing = false;
                if (ar.succeeded()) {
                    committed.run();
                    return;
                }
                LOG.warn("maintenance {}: publishing the transition failed, retrying in {} ms: {}", open.requestId, RETRY_MS, ar.cause().toString());
                vertx.setTimer(RETRY_MS, id -> {
                    synchronized (this) {
                        evaluate(open);
                        checkDrain(open);
                        completeIfDisconnected(open);
                    }
                });
            }
        });
    }

    /**
     * Publishes a transition and completes once this manager's view shows it, on every topic it
     * touched: a client that reads the domain after reading COMPLETED (or after activating) sees
     * the domain's new status, although the two records are on different topics that the view
     * applies in no particular order.
     */
    private Future<Void> publishAndApply(List<Outgoing> records) {
        var context = vertx.getOrCreateContext();
        return bus.publish(records).compose(published -> Future.fromCompletionStage(view.sync(), context)
                .recover(e -> {
                    LOG.warn("the state view did not confirm a published transition: {}", e.toString());
                    return Future.succeededFuture();
                }));
    }

    private synchronized void onVote(MaintenanceVote vote, Instant at, boolean live) {
        OpenRequest open = byRequest.get(vote.getRequestId());
        if (open == null || open.status != MaintenanceStatus.VOTING) {
            if (live) {
                LOG.warn("vote of {} ignored: maintenance request {} is {}", vote.getSubscriberId(), vote.getRequestId(),
                        open == null ? "unknown or closed" : "decided already (" + open.status + ")");
            }
            return;
        }
        switch (open.ballot.record(vote.getSubscriberId(), vote.getDecision(), vote.getReason(), at)) {
            case NOT_A_VOTER -> LOG.warn("vote of {} ignored: it is not a voter of maintenance request {}", vote.getSubscriberId(), vote.getRequestId());
            case DUPLICATE -> LOG.info("vote of {} on maintenance request {} ignored: its first vote counts", vote.getSubscriberId(), vote.getRequestId());
            case COUNTED -> {
                LOG.debug("maintenance {}: {} votes {}", open.requestId, vote.getSubscriberId(), vote.getDecision());
                announce(open, open.ballot.voteOf(vote.getSubscriberId()), open.ballot.silentSubscribers().size());
                evaluate(open);
            }
        }
    }

    /**
     * Tells the event stream a vote counted, so a console or a service sees each vote as it
     * comes rather than only the decision. Also for votes replayed on start: a manager that took
     * over cannot know which of them its predecessor announced, so a reader may see one twice.
     * Retried while the vote is open; the decision lists the votes that decided it anyway.
     */
    private void announce(OpenRequest open, CastVote vote, int silent) {
        Envelope envelope = Envelopes.origin(open.pool, issuer, open.requestId);
        bus.publish(List.of(new Outgoing(Topics.EVENTS, open.domainId, MaintenanceVoteCounted.newBuilder().setEnvelope(envelope)
                .setRequestId(open.requestId).setDomainId(open.domainId).setVote(vote).setSilent(silent).build())))
                .onFailure(e -> vertx.setTimer(RETRY_MS, id -> {
                    synchronized (this) {
                        if (lifecycle.isStarted() && open.status == MaintenanceStatus.VOTING && byRequest.get(open.requestId) == open) {
                            LOG.warn("maintenance {}: announcing the vote of {} failed, retrying: {}", open.requestId, vote.getSubscriberId(), e.toString());
                            announce(open, vote, silent);
                        }
                    }
                }));
    }

    private synchronized void onDisconnected(DomainDisconnected answer, boolean live) {
        OpenRequest open = byRequest.get(answer.getRequestId());
        // A host may answer before this manager has seen its own start committed: the host read
        // the committed DisconnectDomain, so the start did commit, and the answer counts.
        boolean waiting = open != null && open.hostsPending.contains(answer.getHostId())
                && (open.status == MaintenanceStatus.PREPARING
                    || (open.status == MaintenanceStatus.VOTING || open.status == MaintenanceStatus.DRAINING) && open.publishing);
        if (!waiting) {
            if (live) {
                LOG.info("disconnect answer of host {} for maintenance {} ignored: nothing waits for it", answer.getHostId(), answer.getRequestId());
            }
            return;
        }
        if (!answer.getFailures().isEmpty()) {
            LOG.warn("maintenance {}: host {} could not tear down every volume of domain {}: {}", open.requestId, answer.getHostId(),
                    open.domainId, answer.getFailures());
        }
        if (open.hostAnswered(answer.getHostId(), answer.getFailures())) {
            completeIfDisconnected(open);
        }
    }

    /** A record about a volume was applied to the view (on its consumer thread): a drain's move may have ended. */
    private void onVolumeActivity(String volumeId) {
        if (!lifecycle.isStarted() || !drainingVolumes.contains(volumeId)) {
            return;
        }
        vertx.runOnContext(v -> {
            synchronized (this) {
                for (OpenRequest open : List.copyOf(byDomain.values())) {
                    if (open.status == MaintenanceStatus.DRAINING && open.moves(volumeId)) {
                        checkDrain(open);
                    }
                }
            }
        });
    }

    /** A host whose session ended holds no lease any more: it no longer uses the domain. */
    private synchronized void onHostGone(String hostId) {
        for (OpenRequest open : List.copyOf(byDomain.values())) {
            if (open.status == MaintenanceStatus.PREPARING && open.hostsPending.contains(hostId)) {
                hostGone(open, hostId);
                completeIfDisconnected(open);
            }
        }
    }

    private void hostGone(OpenRequest open, String hostId) {
        LOG.info("maintenance {}: host {} left the cluster; its leases ended with its session", open.requestId, hostId);
        open.hostAnswered(hostId, List.of());
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        replies.close();
        view.removeVolumeActivityListener(volumeActivity);
        synchronized (this) {
            byDomain.values().forEach(open -> {
                if (open.timer >= 0) {
                    vertx.cancelTimer(open.timer);
                }
            });
        }
    }
}
