package io.storagebus.worker.host;

import io.storagebus.bus.TaskType;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.ArrayList;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.storagebus.bus.Envelopes;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.worker.CommandTrace;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.TopicMap;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeUri;
import io.storagebus.leases.LeaseHeldException;
import io.storagebus.leases.LeaseTakeover;
import io.storagebus.leases.VolumeLease;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.schema.CheckDomainStorage;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.DomainDisconnected;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.UnmonitorVolume;
import io.storagebus.schema.PrepareVolume;
import io.storagebus.schema.StreamLayer;
import io.storagebus.schema.SwitchToLayer;
import io.storagebus.schema.GrowGuestDisk;
import io.storagebus.schema.MirrorVolume;
import io.storagebus.schema.CancelTask;
import io.storagebus.schema.TeardownVolume;
import io.storagebus.schema.VolumeLeaseLost;
import io.storagebus.schema.VolumeLeaseTakenOver;
import io.storagebus.schema.VolumePrepared;
import io.storagebus.schema.VolumeTornDown;
import io.storagebus.worker.HostDrivers;
import io.storagebus.worker.IssuerPolicy;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.subscriber.Vote;
import io.storagebus.worker.thin.VolumeMonitor;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's side of volume use: prepare takes the volume's exclusive lease and activates it,
 * teardown deactivates it and gives the lease back, and a lost lease makes the host stop using
 * the volume before another host can take it.
 */
final class HostCommandHandler {
    private static final Logger LOG = LoggerFactory.getLogger(HostCommandHandler.class);

    private final WorkerConfig config;
    private final DriverRegistry drivers;
    private final VolumeLeases leases;
    private final VolumeMonitor monitor;
    private final MessageCodec codec = MessageCodec.standard();
    /** Domains of the volumes prepared here, to deactivate them when their lease is lost. */
    private final Map<String, DomainRef> prepared = new ConcurrentHashMap<>();
    private final Consumer<ProducerRecord<String, byte[]>> publishLater;
    /** Prepares waiting out a lease's takeover (see {@link LeaseTakeover}): their domains, by volume id. */
    private final Map<String, DomainRef> waiting = new ConcurrentHashMap<>();
    private final ScheduledExecutorService waits = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "lease-takeover-waits");
        t.setDaemon(true);
        return t;
    });
    /** A volume's activation and its teardown or lease loss never interleave: a prepare may finish on the waits' thread. */
    private final Object[] volumeLocks = new Object[64];

    /** How long a vote waits for the monitor to say which guests use the domain. */
    private static final long VOTE_TIMEOUT_SECONDS = 15;
    /** The commands of this host, by type. */
    private final Map<Class<?>, Handler<?>> commands = new HashMap<>();

    HostCommandHandler(WorkerConfig config, DriverRegistry drivers, VolumeLeases leases, VolumeMonitor monitor,
                       Consumer<ProducerRecord<String, byte[]>> publishLater) {
        this.config = config;
        this.drivers = drivers;
        this.leases = leases;
        this.monitor = monitor;
        this.publishLater = publishLater;
        Arrays.setAll(volumeLocks, i -> new Object());
        GuestCommands guests = new GuestCommands(config, drivers, leases, monitor, prepared::containsKey, prepared::replace, publishLater);
        on(PrepareVolume.class, this::prepare);
        on(TeardownVolume.class, this::teardown);
        on(CheckDomainStorage.class, check -> List.of(DomainStorageCheck.answer(check, config.hostId(), config.issuer(), drivers)));
        on(DisconnectDomain.class, this::disconnect);
        on(MonitorVolume.class, guests::monitor);
        on(UnmonitorVolume.class, unwatch -> {
            guests.unmonitor(unwatch.getVolumeId());
            return List.of();
        });
        on(SwitchToLayer.class, change -> List.of(guests.switchToLayer(change)));
        onAnswerLater(MirrorVolume.class, guests::mirror);
        onAnswerLater(CancelTask.class, guests::cancel);
        onAnswerLater(StreamLayer.class, guests::streamLayer);
        onAnswerLater(GrowGuestDisk.class, guests::growGuestDisk);
        onAnswerLater(RefreshVolume.class, guests::refresh);
        if (!commands.keySet().equals(Set.copyOf(TopicMap.HOST_COMMANDS.types()))) {
            throw new IllegalStateException("the host handles " + commands.keySet() + " but " + TopicMap.HOST_COMMANDS.name()
                    + " carries " + TopicMap.HOST_COMMANDS.types());
        }
    }

    /** A command type this host carries out, with its handler. */
    private record Handler<C extends SpecificRecord>(Class<C> type, Function<C, List<ProducerRecord<String, byte[]>>> handler) {
        List<ProducerRecord<String, byte[]>> handle(SpecificRecord command) {
            return handler.apply(type.cast(command));
        }
    }

    private <C extends SpecificRecord> void on(Class<C> type, Function<C, List<ProducerRecord<String, byte[]>>> handler) {
        commands.put(type, new Handler<>(type, handler));
    }

    /** A command carried on asynchronously: nothing is answered at once; what it answers is published when it is done. */
    private <C extends SpecificRecord> void onAnswerLater(Class<C> type, Consumer<C> handler) {
        on(type, command -> {
            handler.accept(command);
            return List.of();
        });
    }

    /** Every host command names the host it is for in its {@code hostId} field; a command for another host is not this one's. */
    private static String hostIdOf(SpecificRecord command) {
        Schema.Field field = command.getSchema().getField("hostId");
        return field == null ? null : String.valueOf(command.get(field.pos()));
    }

    List<ProducerRecord<String, byte[]>> handle(ConsumerRecord<String, byte[]> record) {
        SpecificRecord command;
        try {
            command = codec.decode(record.value());
        } catch (UndecodableRecordException e) {
            return List.of(deadLetter(record, e.getMessage()));
        }
        return CommandTrace.run(command, () -> dispatch(record, command), out -> out);
    }

    private List<ProducerRecord<String, byte[]>> dispatch(ConsumerRecord<String, byte[]> record, SpecificRecord command) {
        Envelope cause = Envelopes.of(command);
        Optional<String> refused = config.issuerPolicy().refusal(record, command, cause);
        if (refused.isPresent()) {
            LOG.warn("host {}: {}", config.hostId(), refused.get());
            return List.of(WorkerRecords.commandFailed(Envelopes.causedBy(cause, config.issuer(), null), cause,
                    command.getSchema().getFullName(), null, null, IssuerPolicy.REFUSED, refused.get()), deadLetter(record, refused.get()));
        }
        Handler<?> handler = commands.get(command.getClass());
        if (handler != null && config.hostId().equals(hostIdOf(command))) {
            return handler.handle(command);
        }
        return List.of(deadLetter(record, command.getSchema().getFullName() + " is not a command for host " + config.hostId()));
    }

    /**
     * Takes the volume's lease and makes the volume usable here. A lease its holder did not give
     * back is used only once that holder's guests have surely stopped writing: the task says
     * what it waits for, {@code VolumeLeaseTakenOver} tells subscribers, and the activation
     * happens when the wait is over, without holding up this host's other commands.
     */
    private List<ProducerRecord<String, byte[]>> prepare(PrepareVolume cmd) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        VolumeLease lease;
        try {
            lease = leases.acquire(cmd.getVolumeId());
        } catch (LeaseHeldException e) {
            return failed(cmd.getEnvelope(), envelope, PrepareVolume.class, TaskType.PREPARE_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(),
                    cmd.getVolumeId(), "LEASE_HELD", e.getMessage());
        } catch (Exception e) {
            return failed(cmd.getEnvelope(), envelope, PrepareVolume.class, TaskType.PREPARE_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(),
                    cmd.getVolumeId(), "LEASE_UNAVAILABLE", "cannot take the lease: " + e.getMessage());
        }
        Optional<LeaseTakeover> takeover = leases.takeover(cmd.getVolumeId());
        Duration wait = takeover.map(t -> t.remaining(Instant.now())).orElse(Duration.ZERO);
        if (wait.isZero()) {
            return activate(cmd, lease);
        }
        if (waiting.putIfAbsent(cmd.getVolumeId(), cmd.getDomain()) != null) {
            return List.of(); // delivered again while the first one waits; that one answers
        }
        LeaseTakeover t = takeover.get();
        try {
            waits.schedule(() -> activateWhenUsable(cmd, lease, t), wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
            waiting.remove(cmd.getVolumeId());
            releaseQuietly(cmd.getVolumeId());
            return failed(cmd.getEnvelope(), envelope, PrepareVolume.class, TaskType.PREPARE_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(),
                    cmd.getVolumeId(), "LEASE_UNAVAILABLE", "the worker is stopping");
        }
        return List.of(
                Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeLeaseTakenOver.newBuilder().setEnvelope(envelope)
                        .setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId()).setHostId(config.hostId()).setLeaseEpoch(lease.epoch())
                        .setPreviousHostId(t.previousHostId()).setPreviousEpoch(t.previousEpoch())
                        .setPreviousGuardMillis(t.previousGuard() == null ? null : t.previousGuard().toMillis())
                        .setWaitMillis(t.waitTime().toMillis()).setUsableAt(t.usableAt()).build()),
                new WorkerRecords.Task(cmd.getTaskId(), TaskType.PREPARE_VOLUME, cmd.getDomain().getId(), cmd.getVolumeId(),
                        cmd.getEnvelope().getTimestamp()).waiting(envelope, t.describe()));
    }

    /**
     * On the waits' timer: activates the volume once the takeover's wait is over. The timer
     * counts on its own clock in whole milliseconds, so it may fire a moment before the
     * wall-clock {@code usableAt}; then it is set again for what is left, never used early.
     */
    private void activateWhenUsable(PrepareVolume cmd, VolumeLease lease, LeaseTakeover t) {
        Duration left = t.remaining(Instant.now());
        try {
            if (!left.isZero()) {
                waits.schedule(() -> activateWhenUsable(cmd, lease, t), left.toMillis() + 1, TimeUnit.MILLISECONDS);
                return;
            }
            activate(cmd, lease).forEach(publishLater);
            waiting.remove(cmd.getVolumeId());
        } catch (RejectedExecutionException stopping) {
            waiting.remove(cmd.getVolumeId()); // the lease ends with the worker's session
        } catch (RuntimeException e) {
            waiting.remove(cmd.getVolumeId());
            LOG.error("host {}: preparing volume {} after the takeover wait failed", config.hostId(), cmd.getVolumeId(), e);
            releaseQuietly(cmd.getVolumeId());
            failed(cmd.getEnvelope(), Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null), PrepareVolume.class,
                    TaskType.PREPARE_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(), cmd.getVolumeId(), "INTERNAL", e.toString())
                    .forEach(publishLater);
        }
    }

    /** Activates the volume under {@code lease}, if this host still holds it; the records that say how it went. */
    private List<ProducerRecord<String, byte[]>> activate(PrepareVolume cmd, VolumeLease lease) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        VolumeUri uri = new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId());
        synchronized (lockOf(cmd.getVolumeId())) {
            if (leases.heldLease(cmd.getVolumeId()).filter(held -> held.epoch() == lease.epoch()).isEmpty()) {
                return failed(cmd.getEnvelope(), envelope, PrepareVolume.class, TaskType.PREPARE_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(),
                        cmd.getVolumeId(), "LEASE_LOST", "the lease of epoch " + lease.epoch() + " ended (torn down or lost) before the volume was used");
            }
            try {
                StorageDriver driver = driver(cmd.getDomain());
                DomainContext domain = context(cmd.getDomain());
                VolumeInfo info = driver.info(domain, uri);
                driver.admitLease(domain, uri, lease.epoch());
                String path = driver.capabilities().contains(Capability.ACTIVATE) ? driver.activate(domain, uri) : GuestCommands.guestPath(info.location());
                long allocated = info.allocatedSize();
                leases.describe(cmd.getVolumeId(), l -> l.usableAt(path, allocated));
                prepared.put(cmd.getVolumeId(), cmd.getDomain());
                LOG.info("host {}: volume {} prepared at {} (lease epoch {})", config.hostId(), cmd.getVolumeId(), path, lease.epoch());
                return List.of(
                        Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumePrepared.newBuilder().setEnvelope(envelope)
                                .setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId()).setHostId(config.hostId()).setPath(path)
                                .setLeaseEpoch(lease.epoch()).build()),
                        succeeded(cmd.getTaskId(), TaskType.PREPARE_VOLUME, cmd.getDomain(), cmd.getVolumeId(), cmd.getEnvelope(), envelope));
            } catch (DriverException e) {
                releaseQuietly(cmd.getVolumeId());
                return failed(cmd.getEnvelope(), envelope, PrepareVolume.class, TaskType.PREPARE_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(),
                        cmd.getVolumeId(), e.code().name(), e.getMessage());
            }
        }
    }

    private Object lockOf(String volumeId) {
        return volumeLocks[Math.floorMod(volumeId.hashCode(), volumeLocks.length)];
    }


    private List<ProducerRecord<String, byte[]>> teardown(TeardownVolume cmd) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        try {
            return List.of(
                    tearDown(cmd.getDomain(), cmd.getVolumeId(), cmd.getTaskId(), envelope),
                    succeeded(cmd.getTaskId(), TaskType.TEARDOWN_VOLUME, cmd.getDomain(), cmd.getVolumeId(), cmd.getEnvelope(), envelope));
        } catch (DriverException e) {
            return failed(cmd.getEnvelope(), envelope, TeardownVolume.class, TaskType.TEARDOWN_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(),
                    cmd.getVolumeId(), e.code().name(), e.getMessage());
        } catch (Exception e) {
            return failed(cmd.getEnvelope(), envelope, TeardownVolume.class, TaskType.TEARDOWN_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(),
                    cmd.getVolumeId(), "LEASE_UNAVAILABLE", "cannot release the lease: " + e.getMessage());
        }
    }

    /** Stops using the volume here (its guest watch, its device, its lease); the event that says so. */
    private ProducerRecord<String, byte[]> tearDown(DomainRef domain, String volumeId, String taskId, Envelope envelope) throws Exception {
        synchronized (lockOf(volumeId)) {
            monitor.unwatch(volumeId);
            deactivate(domain, volumeId);
            prepared.remove(volumeId);
            leases.release(volumeId);
        }
        LOG.info("host {}: volume {} torn down", config.hostId(), volumeId);
        return Records.of(Topics.EVENTS, volumeId, VolumeTornDown.newBuilder().setEnvelope(envelope)
                .setTaskId(taskId).setVolumeId(volumeId).setHostId(config.hostId()).build());
    }

    /**
     * Maintenance was decided: tear down every volume of the domain prepared here and answer the
     * manager. A volume that cannot be torn down is named in the answer, which keeps the domain
     * out of MAINTENANCE until an operator sees to it.
     */
    private List<ProducerRecord<String, byte[]>> disconnect(DisconnectDomain cmd) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        List<String> tornDown = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        // A prepare still waiting out a takeover is torn down too: it then finds its lease gone and fails.
        List<String> volumes = Stream.concat(prepared.entrySet().stream(), waiting.entrySet().stream())
                .filter(e -> e.getValue().getId().equals(cmd.getDomain().getId())).map(Map.Entry::getKey).distinct().sorted().toList();
        for (String volumeId : volumes) {
            try {
                out.add(tearDown(cmd.getDomain(), volumeId, cmd.getRequestId(), envelope));
                tornDown.add(volumeId);
            } catch (Exception e) {
                LOG.error("host {}: volume {} of domain {} could not be torn down for maintenance: {}", config.hostId(), volumeId,
                        cmd.getDomain().getId(), e.getMessage());
                failures.add(volumeId + ": " + e.getMessage());
            }
        }
        LOG.info("host {}: disconnected from domain {} for maintenance {} ({} volumes torn down{})", config.hostId(),
                cmd.getDomain().getId(), cmd.getRequestId(), tornDown.size(), failures.isEmpty() ? "" : ", " + failures.size() + " failed");
        out.add(Records.of(Topics.MAINTENANCE, cmd.getRequestId(), DomainDisconnected.newBuilder().setEnvelope(envelope)
                .setRequestId(cmd.getRequestId()).setDomainId(cmd.getDomain().getId()).setHostId(config.hostId())
                .setVolumesTornDown(tornDown).setFailures(failures).build()));
        return out;
    }

    /**
     * This host's vote: a veto while a guest here uses a volume of the domain, naming them,
     * unless the request drains the domain: then those volumes move away live first.
     */
    Vote maintenanceVote(MaintenanceRequested request) throws Exception {
        if (request.getDrainTargetDomainId() != null) {
            return Vote.consent();
        }
        List<String> used = monitor.guestVolumes(request.getDomainId()).toCompletionStage().toCompletableFuture()
                .get(VOTE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (used.isEmpty()) {
            return Vote.consent();
        }
        return Vote.veto("guests on host " + config.hostId() + " use " + used.size() + " volume(s) of domain '"
                + request.getDomainName() + "': " + String.join(", ", used));
    }

    /**
     * Stops the guests writing under these leases, and waits until they are stopped or killed
     * (a bounded wait: QEMU's stop timeout, then a kill). Nothing else can be done meanwhile on
     * the caller's thread, which is what a fence wants.
     */
    void fenceGuests(List<VolumeLease> leases, String reason) {
        awaitStops(monitor.fence(leases, reason), leases.size());
    }

    /** Stops every guest on a leased volume (the watchdog is gone), and waits as {@link #fenceGuests} does. */
    void fenceAllGuests(List<VolumeLease> held, String reason) {
        awaitStops(monitor.fenceAll(held, reason), held.size());
    }

    private void awaitStops(io.vertx.core.Future<Void> stops, int leases) {
        try {
            stops.toCompletionStage().toCompletableFuture().get(VolumeMonitor.GUEST_STOP_TIMEOUT.toMillis() * 3, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.error("host {}: stopping the guests of {} leased volumes failed: {}", config.hostId(), leases, e.toString());
        }
    }

    /** The lease is gone: stop using the volume here at once, then say so. */
    ProducerRecord<String, byte[]> leaseLost(VolumeLease lease, String reason) {
        // A guest not stopped while the lease was in doubt (or watched since) stops before the volume goes.
        fenceGuests(List.of(lease), reason);
        String what = reason;
        synchronized (lockOf(lease.volumeId())) {
            DomainRef domain = prepared.remove(lease.volumeId());
            monitor.unwatch(lease.volumeId());
            if (domain != null) {
                try {
                    deactivate(domain, lease.volumeId());
                    what = reason + "; the volume was deactivated on " + config.hostId();
                } catch (DriverException e) {
                    what = reason + "; deactivating it failed: " + e.getMessage();
                    LOG.error("host {}: volume {} lost its lease but could not be deactivated: {}", config.hostId(), lease.volumeId(), e.getMessage());
                }
            }
        }
        Envelope envelope = Envelopes.origin(config.pool(), config.issuer(), "lease-" + lease.volumeId() + "-" + lease.epoch());
        return Records.of(Topics.EVENTS, lease.volumeId(), VolumeLeaseLost.newBuilder().setEnvelope(envelope)
                .setVolumeId(lease.volumeId()).setHostId(config.hostId()).setLeaseEpoch(lease.epoch()).setReason(what).build());
    }

    /** Prepares still waiting out a takeover are dropped: their lease goes with the worker's session. */
    void close() {
        waits.shutdownNow();
    }

    private void deactivate(DomainRef domain, String volumeId) throws DriverException {
        StorageDriver driver = driver(domain);
        if (driver.capabilities().contains(Capability.ACTIVATE)) {
            try {
                driver.deactivate(context(domain), new VolumeUri(domain.getId(), volumeId));
            } catch (DriverException e) {
                if (e.code() != DriverException.Code.NOT_FOUND) {
                    throw e;
                }
            }
        }
    }

    private void releaseQuietly(String volumeId) {
        try {
            leases.release(volumeId);
        } catch (Exception e) {
            LOG.warn("host {}: releasing the lease of {}: {}", config.hostId(), volumeId, e.toString());
        }
    }

    private StorageDriver driver(DomainRef domain) throws DriverException {
        return HostDrivers.driver(drivers, config.hostId(), domain);
    }

    private static DomainContext context(DomainRef domain) {
        return HostDrivers.context(domain);
    }

    private static ProducerRecord<String, byte[]> succeeded(String taskId, TaskType type, DomainRef domain, String volumeId, Envelope command,
                                                            Envelope envelope) {
        return new WorkerRecords.Task(taskId, type, domain.getId(), volumeId, command.getTimestamp()).succeeded(envelope);
    }

    private List<ProducerRecord<String, byte[]>> failed(Envelope command, Envelope envelope, Class<?> commandType, TaskType taskType,
                                                        String taskId, String domainId, String volumeId, String code, String message) {
        LOG.warn("host {}: {} of volume {} failed: {} {}", config.hostId(), taskType, volumeId, code, message);
        return List.of(
                WorkerRecords.commandFailed(envelope, command, commandType.getName(), taskId, volumeId, code, message),
                new WorkerRecords.Task(taskId, taskType, domainId, volumeId, command.getTimestamp()).failed(envelope, code, message));
    }

    private ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
        StorageBusMetrics.get().deadLettered();
        LOG.warn("dead-lettering {}-{}@{}: {}", record.topic(), record.partition(), record.offset(), reason);
        return Records.deadLetter(record, reason, config.issuer());
    }
}
