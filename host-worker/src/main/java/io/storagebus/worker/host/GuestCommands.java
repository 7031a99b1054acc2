package io.storagebus.worker.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Predicate;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeUri;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.LayerChange;
import io.storagebus.bus.TaskType;
import io.storagebus.schema.CancelTask;
import io.storagebus.schema.GrowGuestDisk;
import io.storagebus.schema.GuestDiskGrown;
import io.storagebus.schema.LayerChangeDone;
import io.storagebus.schema.MirrorDone;
import io.storagebus.schema.MirrorVolume;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.StreamLayer;
import io.storagebus.schema.SwitchToLayer;
import io.storagebus.schema.VolumeCopyProgress;
import io.storagebus.schema.VolumeState;
import io.storagebus.worker.HostDrivers;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.thin.VolumeMonitor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's commands about the guests using its prepared volumes, all carried out through the
 * {@link VolumeMonitor} over QMP: watch a guest's use of a volume (and stop), see a volume the SPM
 * extended, move the guest to a new snapshot layer, stream a layer away for a live merge.
 */
final class GuestCommands {
    private static final Logger LOG = LoggerFactory.getLogger(GuestCommands.class);
    private static final long WATCH_TIMEOUT_SECONDS = 15;

    private final WorkerConfig config;
    private final DriverRegistry drivers;
    private final VolumeLeases leases;
    private final VolumeMonitor monitor;
    private final Predicate<String> prepared;
    /** Live moves cancelled lately, by task id: a mirror that comes after its cancel is refused. */
    private final java.util.Set<String> cancelledMoves = java.util.Collections.newSetFromMap(java.util.Collections.synchronizedMap(
            new java.util.LinkedHashMap<>() {
                @Override
                protected boolean removeEldestEntry(java.util.Map.Entry<String, Boolean> eldest) {
                    return size() > 1024;
                }
            }));
    /** A live move took a prepared volume to another domain. */
    private final java.util.function.BiConsumer<String, DomainRef> movedTo;
    /** Sends a record without blocking: for answers that come after the command was handled. */
    private final Consumer<ProducerRecord<String, byte[]>> publishLater;

    GuestCommands(WorkerConfig config, DriverRegistry drivers, VolumeLeases leases, VolumeMonitor monitor, Predicate<String> prepared,
                  java.util.function.BiConsumer<String, DomainRef> movedTo, Consumer<ProducerRecord<String, byte[]>> publishLater) {
        this.movedTo = movedTo;
        this.config = config;
        this.drivers = drivers;
        this.leases = leases;
        this.monitor = monitor;
        this.prepared = prepared;
        this.publishLater = publishLater;
    }

    /** The SPM extended the volume: the device here must see its new size; answered asynchronously. */
    void refresh(RefreshVolume refresh) {
        StorageBusMetrics.get().extendRoundTrip(Duration.between(refresh.getReportedAt(), Instant.now()).toNanos() / 1e9);
        // If it fails, the monitor reports the volume again and the SPM answers again.
        monitor.refresh(refresh)
                .onSuccess(v -> leases.describe(refresh.getVolumeId(), l -> refresh.getAllocation() > l.allocatedBytes()
                        ? l.extendedTo(refresh.getAllocation(), Instant.now()) : l))
                .onFailure(e -> LOG.error("host {}: refreshing volume {} failed: {}", config.hostId(),
                        refresh.getVolumeId(), e.getMessage()));
    }

    void unmonitor(String volumeId) {
        monitor.unwatch(volumeId);
    }

    /**
     * Whether a socket lies in the host's QMP directory once links are resolved: the caller names
     * the socket, and the host must not be talked into connecting to another service's.
     */
    private boolean inQmpDirectory(Path socket) {
        try {
            Path directory = config.qmpDirectory().toRealPath();
            Path real = Files.exists(socket) ? socket.toRealPath() : socket.toAbsolutePath().normalize();
            return real.startsWith(directory) && !real.equals(directory);
        } catch (IOException e) {
            return false;
        }
    }

    /** Starts watching; a QEMU that cannot be reached or a node it does not know is a failed command. */
    List<ProducerRecord<String, byte[]>> monitor(MonitorVolume cmd) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        if (!prepared.test(cmd.getVolumeId())) {
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
            LOG.warn("host {}: cannot watch volume {} through {}: {}", config.hostId(), cmd.getVolumeId(), cmd.getQmpSocket(), reason(e));
            return List.of(WorkerRecords.commandFailed(envelope, cmd.getEnvelope(), MonitorVolume.class.getName(), null, cmd.getVolumeId(),
                    "QMP_ERROR", "cannot watch volume " + cmd.getVolumeId() + " through QMP socket " + cmd.getQmpSocket()
                            + " node " + cmd.getNodeName() + ": " + reason(e)));
        }
    }

    /** What a wait for QEMU ended with, in words: its failure's, or how long it went unanswered (a timeout has no message). */
    private static String reason(Exception e) {
        return e instanceof ExecutionException ? String.valueOf(e.getCause().getMessage())
                : "QEMU did not answer within " + WATCH_TIMEOUT_SECONDS + " s";
    }

    /** A live snapshot's second step: the guest here moves to the new layer; the SPM hears how it went. */
    ProducerRecord<String, byte[]> switchToLayer(SwitchToLayer cmd) {
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
            LOG.warn("host {}: cannot switch the guest of volume {} to its new layer: {}", config.hostId(), cmd.getVolumeId(), reason(e));
            done.setErrorCode("QMP_ERROR").setErrorMessage("host " + config.hostId() + " could not switch the guest to the new layer "
                    + cmd.getOverlay() + ": " + reason(e));
        }
        return Records.of(Topics.spmCommands(cmd.getEnvelope().getPool()), cmd.getVolumeId(), done.build());
    }

    /**
     * A live resize's second step: the guest here grows its disk into the room the SPM made; the
     * SPM hears how it went ({@link GuestDiskGrown}), and records the size.
     */
    void growGuestDisk(GrowGuestDisk cmd) {
        GuestDiskGrown.Builder done = GuestDiskGrown.newBuilder().setEnvelope(Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null))
                .setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId()).setDomain(cmd.getDomain()).setVolume(cmd.getVolume())
                .setHostId(config.hostId()).setVirtualSize(cmd.getVirtualSize()).setLive(false);
        Consumer<GuestDiskGrown.Builder> answer = d -> publishLater.accept(Records.of(Topics.spmCommands(cmd.getEnvelope().getPool()),
                cmd.getVolumeId(), d.build()));
        if (!prepared.test(cmd.getVolumeId())) {
            answer.accept(done.setErrorCode("NOT_PREPARED").setErrorMessage("volume " + cmd.getVolumeId() + " is not prepared on host "
                    + config.hostId() + " any more; resize it again"));
            return;
        }
        monitor.growDisk(cmd.getDomain(), cmd.getVolumeId(), cmd.getVirtualSize())
                .onSuccess(done::setLive)
                .onFailure(e -> {
                    LOG.warn("host {}: growing the guest disk of volume {} to {} bytes failed: {}", config.hostId(), cmd.getVolumeId(),
                            cmd.getVirtualSize(), e.toString());
                    done.setErrorCode(e instanceof DriverException de ? de.code().name() : "QMP_ERROR").setErrorMessage("host "
                            + config.hostId() + " could not grow the guest's disk to " + cmd.getVirtualSize() + " bytes: " + e.getMessage());
                })
                .onComplete(ar -> answer.accept(done));
    }

    /**
     * A live merge: the guest here streams the layer away, which takes as long as the layer is
     * large, so the answer to the SPM is sent when QEMU reports the job ended; other commands of
     * this host go on meanwhile.
     */
    void streamLayer(StreamLayer cmd) {
        LayerChangeDone.Builder done = layerChangeDone(cmd.getEnvelope(), cmd.getTaskId(), cmd.getVolumeId(), cmd.getDomain(),
                cmd.getVolume(), cmd.getSnapshotId(), LayerChange.MERGE);
        try {
            // The SPM made room in the child for the layer's data: the child's device must see it before QEMU writes there.
            StorageDriver driver = HostDrivers.driver(drivers, config.hostId(), cmd.getDomain());
            if (driver.capabilities().contains(Capability.REFRESH)) {
                driver.refresh(HostDrivers.context(cmd.getDomain()), new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId()));
            }
        } catch (DriverException e) {
            done.setErrorCode(e.code().name()).setErrorMessage("host " + config.hostId() + " could not refresh the layers of volume "
                    + cmd.getVolumeId() + " before the merge: " + e.getMessage());
            publishLater.accept(Records.of(Topics.spmCommands(cmd.getEnvelope().getPool()), cmd.getVolumeId(), done.build()));
            return;
        }
        monitor.streamLayer(cmd.getVolumeId(), Path.of(cmd.getChild()),
                        cmd.getBase() == null ? null : Path.of(cmd.getBase()))
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
     * A live move's second step: the target is admitted under this host's lease and activated,
     * the guest's QEMU mirrors onto it and pivots; then the source is deactivated here and the
     * volume is prepared in the target domain. The SPM hears how it went when the mirror ended
     * ({@link MirrorDone}); a failed or cancelled mirror leaves the guest on the source and
     * deactivates the target here. Runs as long as the mirror does; other commands go on.
     */
    void mirror(MirrorVolume cmd) {
        MirrorDone.Builder done = MirrorDone.newBuilder().setEnvelope(Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null))
                .setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId()).setSource(cmd.getSource()).setTarget(cmd.getTarget())
                .setVolume(cmd.getVolume()).setHostId(config.hostId()).setRequestedAt(cmd.getRequestedAt()).setFrozenBytes(cmd.getFrozenBytes())
                .setFrozenSha256(cmd.getFrozenSha256()).setMirroredBytes(0);
        Consumer<MirrorDone.Builder> answer = d -> publishLater.accept(Records.of(Topics.spmCommands(cmd.getEnvelope().getPool()),
                cmd.getVolumeId(), d.build()));
        String volumeId = cmd.getVolumeId();
        if (cancelledMoves.contains(cmd.getTaskId())) {
            answer.accept(done.setErrorCode("CANCELLED").setErrorMessage("the move was cancelled before host " + config.hostId()
                    + " started its mirror"));
            return;
        }
        if (!prepared.test(volumeId)) {
            answer.accept(done.setErrorCode("NOT_PREPARED").setErrorMessage("volume " + volumeId + " is not prepared on host "
                    + config.hostId() + " any more"));
            return;
        }
        String path;
        boolean device;
        try {
            StorageDriver target = HostDrivers.driver(drivers, config.hostId(), cmd.getTarget());
            VolumeUri uri = new VolumeUri(cmd.getTarget().getId(), volumeId);
            long epoch = leases.heldLease(volumeId).orElseThrow(() -> new DriverException(DriverException.Code.CONFLICT,
                    "host " + config.hostId() + " does not hold the lease of volume " + volumeId)).epoch();
            target.admitLease(HostDrivers.context(cmd.getTarget()), uri, epoch);
            device = target.capabilities().contains(Capability.ACTIVATE);
            path = device ? target.activate(HostDrivers.context(cmd.getTarget()), uri) : guestPath(cmd.getTop());
        } catch (DriverException e) {
            answer.accept(done.setErrorCode(e.code().name()).setErrorMessage("host " + config.hostId() + " could not use the target of volume "
                    + volumeId + ": " + e.getMessage()));
            return;
        }
        monitor.mirror(volumeId, jobId(cmd.getTaskId()), cmd.getTarget(), path, device, cmd.getFormat().name().toLowerCase(java.util.Locale.ROOT),
                        cmd.getWithBacking(), cmd.getMirrorBandwidth(), (copied, total) -> mirrorProgress(cmd, copied, total))
                .toCompletionStage().whenCompleteAsync((bytes, e) -> {
                    if (e == null) {
                        done.setMirroredBytes(bytes);
                        movedTo.accept(volumeId, cmd.getTarget());
                        leases.describe(volumeId, l -> l.usableAt(path, l.allocatedBytes()));
                        deactivateQuietly(cmd.getSource(), volumeId, "the source, which the guest left");
                    } else {
                        Throwable cause = e instanceof java.util.concurrent.CompletionException ? e.getCause() : e;
                        String code = cause instanceof VolumeMonitor.NoGuest ? "NO_GUEST"
                                : VolumeMonitor.cancelled(cause) ? "CANCELLED" : "QMP_ERROR";
                        LOG.warn("host {}: live move of volume {} did not pivot ({}): {}", config.hostId(), volumeId, code, cause.getMessage());
                        done.setErrorCode(code).setErrorMessage(code.equals("NO_GUEST") ? cause.getMessage()
                                : "host " + config.hostId() + ": the guest stays on the source: " + cause.getMessage());
                        deactivateQuietly(cmd.getTarget(), volumeId, "the target, which the guest never used");
                    }
                    answer.accept(done);
                });
    }

    /** The move's progress, the frozen layers the SPM copied counted in: an event and the task's bytes. */
    private void mirrorProgress(MirrorVolume cmd, long copied, long total) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        long done = cmd.getFrozenBytes() + copied;
        long all = cmd.getFrozenBytes() + total;
        publishLater.accept(Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeCopyProgress.newBuilder().setEnvelope(envelope)
                .setTaskId(cmd.getTaskId()).setSourceVolumeId(cmd.getVolumeId()).setTargetVolumeId(cmd.getVolumeId())
                .setCopiedBytes(done).setTotalBytes(all).setPhase("mirror").build()));
        publishLater.accept(WorkerRecords.Task.of(cmd.getTaskId(), TaskType.MOVE_VOLUME, cmd.getVolume(), cmd.getRequestedAt())
                .progress(envelope, done, all, "host " + config.hostId() + "'s guest mirrors the active layer to domain "
                        + cmd.getTarget().getId() + " (" + copied + " of " + total + " bytes)"));
    }

    /** A cancel of a live move: its mirror stops, the guest stays on the source, and the mirror's answer says CANCELLED. */
    void cancel(CancelTask cancel) {
        // The SPM may send the mirror after this (it was still copying the frozen layers): remembered, it is refused then.
        cancelledMoves.add(cancel.getTaskId());
        monitor.cancelMirror(jobId(cancel.getTaskId())).onSuccess(cancelled -> {
            if (cancelled) {
                LOG.info("host {}: cancelled the mirror of task {} (volume {})", config.hostId(), cancel.getTaskId(), cancel.getVolumeId());
            }
        });
    }

    private static String jobId(String taskId) {
        return "sb-move-" + taskId;
    }

    private void deactivateQuietly(DomainRef domain, String volumeId, String what) {
        try {
            StorageDriver driver = HostDrivers.driver(drivers, config.hostId(), domain);
            if (driver.capabilities().contains(Capability.ACTIVATE)) {
                driver.deactivate(HostDrivers.context(domain), new VolumeUri(domain.getId(), volumeId));
            }
        } catch (DriverException e) {
            LOG.warn("host {}: cannot deactivate {} of volume {} in domain {}: {}", config.hostId(), what, volumeId, domain.getId(),
                    e.getMessage());
        }
    }

    /** What a guest opens: a file volume's path, not the {@code file:} URI the driver names it by. */
    static String guestPath(String location) {
        return location.startsWith("file:") ? Path.of(java.net.URI.create(location)).toString() : location;
    }

    /**
     * Where the guest opens a layer: on drivers that activate volumes (loop devices, LVs) the
     * layer is activated here first, and the guest opens its activated path; elsewhere the file.
     */
    private String activeLayer(DomainRef domain, String volumeId, String file) throws DriverException {
        StorageDriver driver = HostDrivers.driver(drivers, config.hostId(), domain);
        if (!driver.capabilities().contains(Capability.ACTIVATE)) {
            return file;
        }
        return driver.activate(HostDrivers.context(domain), new VolumeUri(domain.getId(), volumeId));
    }

    private LayerChangeDone.Builder layerChangeDone(Envelope command, String taskId, String volumeId, DomainRef domain,
                                                    VolumeState volume, String snapshotId, LayerChange change) {
        return LayerChangeDone.newBuilder().setEnvelope(Envelopes.causedBy(command, config.issuer(), null)).setTaskId(taskId)
                .setVolumeId(volumeId).setDomain(domain).setVolume(volume).setSnapshotId(snapshotId).setChange(change)
                .setHostId(config.hostId()).setLive(false);
    }
}
