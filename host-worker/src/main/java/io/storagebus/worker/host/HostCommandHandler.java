package io.storagebus.worker.host;

import io.storagebus.bus.TaskType;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.storagebus.bus.Envelopes;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.worker.CommandTrace;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
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
import io.storagebus.leases.VolumeLease;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.schema.CheckDomainStorage;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.DomainDisconnected;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.LayerChange;
import io.storagebus.schema.LayerChangeDone;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.UnmonitorVolume;
import io.storagebus.schema.PrepareVolume;
import io.storagebus.schema.StreamLayer;
import io.storagebus.schema.SwitchToLayer;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.TeardownVolume;
import io.storagebus.schema.VolumeLeaseLost;
import io.storagebus.schema.VolumePrepared;
import io.storagebus.schema.VolumeTornDown;
import io.storagebus.worker.IssuerPolicy;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.subscriber.Vote;
import io.storagebus.worker.thin.VolumeMonitor;
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
    private static final long WATCH_TIMEOUT_SECONDS = 15;
    private final MessageCodec codec = MessageCodec.standard();
    /** Domains of the volumes prepared here, to deactivate them when their lease is lost. */
    private final Map<String, DomainRef> prepared = new ConcurrentHashMap<>();

    /** Sends a record without blocking: for answers that come after the command was handled. */
    private final java.util.function.Consumer<ProducerRecord<String, byte[]>> publishLater;

    HostCommandHandler(WorkerConfig config, DriverRegistry drivers, VolumeLeases leases, VolumeMonitor monitor,
                       java.util.function.Consumer<ProducerRecord<String, byte[]>> publishLater) {
        this.publishLater = publishLater;
        this.config = config;
        this.drivers = drivers;
        this.leases = leases;
        this.monitor = monitor;
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
        if (command instanceof PrepareVolume prepare && prepare.getHostId().equals(config.hostId())) {
            return prepare(prepare);
        }
        if (command instanceof TeardownVolume teardown && teardown.getHostId().equals(config.hostId())) {
            return teardown(teardown);
        }
        if (command instanceof CheckDomainStorage check && check.getHostId().equals(config.hostId())) {
            return List.of(DomainStorageCheck.answer(check, config.hostId(), config.issuer(), drivers));
        }
        if (command instanceof DisconnectDomain disconnect && disconnect.getHostId().equals(config.hostId())) {
            return disconnect(disconnect);
        }
        if (command instanceof MonitorVolume watch && watch.getHostId().equals(config.hostId())) {
            return monitor(watch);
        }
        if (command instanceof UnmonitorVolume unwatch && unwatch.getHostId().equals(config.hostId())) {
            monitor.unwatch(unwatch.getVolumeId());
            return List.of();
        }
        if (command instanceof SwitchToLayer change && change.getHostId().equals(config.hostId())) {
            return List.of(switchToLayer(change));
        }
        if (command instanceof StreamLayer stream && stream.getHostId().equals(config.hostId())) {
            streamLayer(stream);
            return List.of();
        }
        if (command instanceof RefreshVolume refresh && refresh.getHostId().equals(config.hostId())) {
            StorageBusMetrics.get().extendRoundTrip(Duration.between(refresh.getReportedAt(), Instant.now()).toNanos() / 1e9);
            // Answered asynchronously; if it fails, the monitor reports the volume again and the SPM answers again.
            monitor.refresh(refresh)
                    .onSuccess(v -> leases.describe(refresh.getVolumeId(), l -> refresh.getAllocation() > l.allocatedBytes()
                            ? l.extendedTo(refresh.getAllocation(), Instant.now()) : l))
                    .onFailure(e -> LOG.error("host {}: refreshing volume {} failed: {}", config.hostId(),
                            refresh.getVolumeId(), e.getMessage()));
            return List.of();
        }
        return List.of(deadLetter(record, command.getSchema().getFullName() + " is not a command for host " + config.hostId()));
    }

    private List<ProducerRecord<String, byte[]>> prepare(PrepareVolume cmd) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        VolumeUri uri = new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId());
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
        try {
            StorageDriver driver = driver(cmd.getDomain());
            DomainContext domain = context(cmd.getDomain());
            VolumeInfo info = driver.info(domain, uri);
            String path = driver.capabilities().contains(Capability.ACTIVATE) ? driver.activate(domain, uri) : guestPath(info.location());
            long allocated = info.allocatedSize();
            leases.describe(cmd.getVolumeId(), l -> l.usableAt(path, allocated));
            prepared.put(cmd.getVolumeId(), cmd.getDomain());
            LOG.info("host {}: volume {} prepared at {} (lease epoch {})", config.hostId(), cmd.getVolumeId(), path, lease.epoch());
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumePrepared.newBuilder().setEnvelope(envelope)
                            .setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId()).setHostId(config.hostId()).setPath(path)
                            .setLeaseEpoch(lease.epoch()).build()),
                    task(cmd.getTaskId(), TaskType.PREPARE_VOLUME, cmd.getDomain(), cmd.getVolumeId(), cmd.getEnvelope(), envelope,
                            TaskStatus.SUCCEEDED, null, null));
        } catch (DriverException e) {
            releaseQuietly(cmd.getVolumeId());
            return failed(cmd.getEnvelope(), envelope, PrepareVolume.class, TaskType.PREPARE_VOLUME, cmd.getTaskId(), cmd.getDomain().getId(),
                    cmd.getVolumeId(), e.code().name(), e.getMessage());
        }
    }

    /** What a guest opens: a file volume's path, not the {@code file:} URI the driver names it by. */
    private static String guestPath(String location) {
        return location.startsWith("file:") ? Path.of(URI.create(location)).toString() : location;
    }

    /**
     * Whether a socket lies in the host's QMP directory once links are resolved: the caller names
     * the socket, and the host must not be talked into connecting to another service's.
     */
    private boolean inQmpDirectory(Path socket) {
        try {
            Path directory = config.qmpDirectory().toRealPath();
            Path real = java.nio.file.Files.exists(socket) ? socket.toRealPath() : socket.toAbsolutePath().normalize();
            return real.startsWith(directory) && !real.equals(directory);
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** Starts watching; a QEMU that cannot be reached or a node it does not know is a failed command. */
    private List<ProducerRecord<String, byte[]>> monitor(MonitorVolume cmd) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        if (!prepared.containsKey(cmd.getVolumeId())) {
            return List.of(WorkerRecords.commandFailed(envelope, cmd.getEnvelope(), MonitorVolume.class.getName(), null, cmd.getVolumeId(),
                    "NOT_PREPARED", "volume " + cmd.getVolumeId() + " is not prepared on host " + config.hostId() + "; prepare it first"));
        }
        if (!inQmpDirectory(Path.of(cmd.getQmpSocket()))) {
            LOG.warn("host {}: refused to watch volume {} through {}: not under {}", config.hostId(), cmd.getVolumeId(), cmd.getQmpSocket(),
                    config.qmpDirectory());
            return List.of(WorkerRecords.commandFailed(envelope, cmd.getEnvelope(), MonitorVolume.class.getName(), null, cmd.getVolumeId(),
                    "QMP_SOCKET_REFUSED", "QMP socket " + cmd.getQmpSocket() + " is not under host " + config.hostId()
                            + "'s QMP directory " + config.qmpDirectory() + " (worker.qmp-dir)"));
        }
        try {
            monitor.watch(cmd).toCompletionStage().toCompletableFuture().get(WATCH_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            LOG.warn("host {}: cannot watch volume {} through {}: {}", config.hostId(), cmd.getVolumeId(), cmd.getQmpSocket(), cause.toString());
            return List.of(WorkerRecords.commandFailed(envelope, cmd.getEnvelope(), MonitorVolume.class.getName(), null, cmd.getVolumeId(),
                    "QMP_ERROR", "cannot watch volume " + cmd.getVolumeId() + " through QMP socket " + cmd.getQmpSocket()
                            + " node " + cmd.getNodeName() + ": " + cause.getMessage()));
        }
    }

    /** A live snapshot's second step: the guest here moves to the new layer; the SPM hears how it went. */
    private ProducerRecord<String, byte[]> switchToLayer(SwitchToLayer cmd) {
        LayerChangeDone.Builder done = layerChangeDone(cmd.getEnvelope(), cmd.getTaskId(), cmd.getVolumeId(), cmd.getDomain(),
                cmd.getVolume(), cmd.getSnapshotId(), LayerChange.SNAPSHOT);
        try {
            done.setLive(monitor.switchToLayer(cmd.getVolumeId(), activeLayer(cmd.getDomain(), cmd.getVolumeId(), cmd.getOverlay()))
                    .toCompletionStage().toCompletableFuture().get(WATCH_TIMEOUT_SECONDS, TimeUnit.SECONDS));
        } catch (DriverException e) {
            LOG.warn("host {}: cannot activate the new layer of volume {}: {}", config.hostId(), cmd.getVolumeId(), e.getMessage());
            done.setErrorCode(e.code().name()).setErrorMessage("host " + config.hostId() + " could not activate the new layer "
                    + cmd.getOverlay() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done.setErrorCode("QMP_ERROR").setErrorMessage("interrupted");
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            LOG.warn("host {}: cannot switch the guest of volume {} to its new layer: {}", config.hostId(), cmd.getVolumeId(), cause.toString());
            done.setErrorCode("QMP_ERROR").setErrorMessage("host " + config.hostId() + " could not switch the guest to the new layer "
                    + cmd.getOverlay() + ": " + cause.getMessage());
        }
        return Records.of(Topics.spmCommands(cmd.getEnvelope().getPool()), cmd.getVolumeId(), done.build());
    }

    /**
     * A live merge: the guest here streams the layer away, which takes as long as the layer is
     * large, so the answer to the SPM is sent when QEMU reports the job ended; other commands of
     * this host go on meanwhile.
     */
    private void streamLayer(StreamLayer cmd) {
        LayerChangeDone.Builder done = layerChangeDone(cmd.getEnvelope(), cmd.getTaskId(), cmd.getVolumeId(), cmd.getDomain(),
                cmd.getVolume(), cmd.getSnapshotId(), LayerChange.MERGE);
        try {
            // The SPM made room in the child for the layer's data: the child's device must see it before QEMU writes there.
            StorageDriver driver = driver(cmd.getDomain());
            if (driver.capabilities().contains(Capability.REFRESH)) {
                driver.refresh(context(cmd.getDomain()), new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId()));
            }
        } catch (DriverException e) {
            done.setErrorCode(e.code().name()).setErrorMessage("host " + config.hostId() + " could not refresh the layers of volume "
                    + cmd.getVolumeId() + " before the merge: " + e.getMessage());
            publishLater.accept(Records.of(Topics.spmCommands(cmd.getEnvelope().getPool()), cmd.getVolumeId(), done.build()));
            return;
        }
        monitor.streamLayer(cmd.getVolumeId(), java.nio.file.Path.of(cmd.getChild()),
                        cmd.getBase() == null ? null : java.nio.file.Path.of(cmd.getBase()))
                .onSuccess(done::setLive)
                .onFailure(e -> {
                    LOG.warn("host {}: streaming snapshot {} of volume {} failed: {}", config.hostId(), cmd.getSnapshotId(),
                            cmd.getVolumeId(), e.toString());
                    done.setErrorCode("QMP_ERROR").setErrorMessage("host " + config.hostId() + " could not stream snapshot "
                            + cmd.getSnapshotId() + " into " + cmd.getChild() + ": " + e.getMessage());
                })
                .onComplete(ar -> publishLater.accept(Records.of(Topics.spmCommands(cmd.getEnvelope().getPool()), cmd.getVolumeId(),
                        done.build())));
    }

    /**
     * Where the guest opens a layer: on drivers that activate volumes (loop devices, LVs) the
     * layer is activated here first, and the guest opens its activated path; elsewhere the file.
     */
    private String activeLayer(DomainRef domain, String volumeId, String file) throws DriverException {
        StorageDriver driver = driver(domain);
        if (!driver.capabilities().contains(Capability.ACTIVATE)) {
            return file;
        }
        return driver.activate(context(domain), new VolumeUri(domain.getId(), volumeId));
    }

    private LayerChangeDone.Builder layerChangeDone(Envelope command, String taskId, String volumeId, DomainRef domain,
                                                    io.storagebus.schema.VolumeState volume, String snapshotId, LayerChange change) {
        return LayerChangeDone.newBuilder().setEnvelope(Envelopes.causedBy(command, config.issuer(), null)).setTaskId(taskId)
                .setVolumeId(volumeId).setDomain(domain).setVolume(volume).setSnapshotId(snapshotId).setChange(change)
                .setHostId(config.hostId()).setLive(false);
    }

    private List<ProducerRecord<String, byte[]>> teardown(TeardownVolume cmd) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        try {
            return List.of(
                    tearDown(cmd.getDomain(), cmd.getVolumeId(), cmd.getTaskId(), envelope),
                    task(cmd.getTaskId(), TaskType.TEARDOWN_VOLUME, cmd.getDomain(), cmd.getVolumeId(), cmd.getEnvelope(), envelope,
                            TaskStatus.SUCCEEDED, null, null));
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
        monitor.unwatch(volumeId);
        deactivate(domain, volumeId);
        prepared.remove(volumeId);
        leases.release(volumeId);
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
        List<String> volumes = prepared.entrySet().stream().filter(e -> e.getValue().getId().equals(cmd.getDomain().getId()))
                .map(Map.Entry::getKey).sorted().toList();
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

    /** This host's vote: a veto while a guest here uses a volume of the domain, naming them. */
    Vote maintenanceVote(MaintenanceRequested request) throws Exception {
        List<String> used = monitor.guestVolumes(request.getDomainId()).toCompletionStage().toCompletableFuture()
                .get(WATCH_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        if (used.isEmpty()) {
            return Vote.consent();
        }
        return Vote.veto("guests on host " + config.hostId() + " use " + used.size() + " volume(s) of domain '"
                + request.getDomainName() + "': " + String.join(", ", used));
    }

    /** The lease is gone: stop using the volume here at once, then say so. */
    ProducerRecord<String, byte[]> leaseLost(VolumeLease lease, String reason) {
        DomainRef domain = prepared.remove(lease.volumeId());
        monitor.unwatch(lease.volumeId());
        String what = reason;
        if (domain != null) {
            try {
                deactivate(domain, lease.volumeId());
                what = reason + "; the volume was deactivated on " + config.hostId();
            } catch (DriverException e) {
                what = reason + "; deactivating it failed: " + e.getMessage();
                LOG.error("host {}: volume {} lost its lease but could not be deactivated: {}", config.hostId(), lease.volumeId(), e.getMessage());
            }
        }
        Envelope envelope = Envelopes.origin(config.pool(), config.issuer(), "lease-" + lease.volumeId() + "-" + lease.epoch());
        return Records.of(Topics.EVENTS, lease.volumeId(), VolumeLeaseLost.newBuilder().setEnvelope(envelope)
                .setVolumeId(lease.volumeId()).setHostId(config.hostId()).setLeaseEpoch(lease.epoch()).setReason(what).build());
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
        return drivers.find(domain.getDriver()).orElseThrow(() -> new DriverException(DriverException.Code.UNSUPPORTED,
                "host " + config.hostId() + " has no driver '" + domain.getDriver() + "'"));
    }

    /** Host-side operations change no pool metadata, so they run outside any SPM term (epoch 0). */
    private static DomainContext context(DomainRef domain) {
        return new DomainContext(domain.getId(), domain.getProperties());
    }

    private static ProducerRecord<String, byte[]> task(String taskId, TaskType type, DomainRef domain, String volumeId, Envelope command,
                                                       Envelope envelope, TaskStatus status, String code, String message) {
        return WorkerRecords.taskState(taskId, type, domain.getId(), volumeId, command.getTimestamp(), envelope, status, null, null, code, message);
    }

    private List<ProducerRecord<String, byte[]>> failed(Envelope command, Envelope envelope, Class<?> commandType, TaskType taskType,
                                                        String taskId, String domainId, String volumeId, String code, String message) {
        LOG.warn("host {}: {} of volume {} failed: {} {}", config.hostId(), taskType, volumeId, code, message);
        return List.of(
                WorkerRecords.commandFailed(envelope, command, commandType.getName(), taskId, volumeId, code, message),
                WorkerRecords.taskState(taskId, taskType, domainId, volumeId, command.getTimestamp(), envelope, TaskStatus.FAILED,
                        null, null, code, message));
    }

    private ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
        StorageBusMetrics.get().deadLettered();
        LOG.warn("dead-lettering {}-{}@{}: {}", record.topic(), record.partition(), record.offset(), reason);
        return Records.deadLetter(record, reason, config.issuer());
    }
}
