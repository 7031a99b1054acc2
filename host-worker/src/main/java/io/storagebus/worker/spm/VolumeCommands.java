package io.storagebus.worker.spm;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.storagebus.bus.Records;
import io.storagebus.bus.TaskType;
import io.storagebus.bus.Topics;
import io.storagebus.driver.Capability;
import io.storagebus.driver.CopyListener;
import io.storagebus.driver.CopyResult;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.FencedException;
import io.storagebus.driver.SnapshotInfo;
import io.storagebus.driver.SnapshotStatus;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeCopier;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.leases.LeaseHeldException;
import io.storagebus.leases.SpmTerm;
import io.storagebus.leases.VolumeLease;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CloneVolume;
import io.storagebus.schema.CopyVolume;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.MirrorDone;
import io.storagebus.schema.MirrorVolume;
import io.storagebus.schema.MoveVolume;
import io.storagebus.schema.GrowGuestDisk;
import io.storagebus.schema.GuestDiskGrown;
import io.storagebus.schema.ResizeVolume;
import io.storagebus.schema.UntrashVolume;
import io.storagebus.schema.VolumeTrashed;
import io.storagebus.schema.VolumeUntrashed;
import io.storagebus.schema.VolumeCopied;
import io.storagebus.schema.VolumeCopyProgress;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeDeleted;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeMoved;
import io.storagebus.schema.VolumeResized;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.WorkerRecords.VolumeFacts;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SPM's side of whole volumes: create and clone complete in the batch; copy, move and
 * delete, which move or wipe data, run as jobs.
 */
final class VolumeCommands {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeCommands.class);

    private final SpmDrivers spm;
    /** The volumes' leases, which the SPM holds while it deletes or moves one, and watches while a host mirrors one. */
    private final VolumeLeases leases;
    /** The watches of live moves in their hosts' hands, by task id: switched off when the move is decided. */
    private final Map<String, AtomicBoolean> mirrorWatches = new ConcurrentHashMap<>();

    VolumeCommands(SpmDrivers spm, VolumeLeases leases) {
        this.spm = spm;
        this.leases = leases;
    }

    SpmCommandHandler.Job copy(CopyVolume copy, SpmTerm term) {
        VolumeFacts target = copyTarget(copy);
        return new SpmCommandHandler.Job(copy.getTaskId(), List.of(WorkerRecords.Task.of(TaskType.COPY_VOLUME, target)
                .progress(spm.answer(copy.getEnvelope(), term), 0, null)),
                context -> runCopy(copy, term, target, context));
    }

    SpmCommandHandler.Job move(MoveVolume move, SpmTerm term) {
        return new SpmCommandHandler.Job(move.getTaskId(), List.of(SpmCommandHandler.running(move.getTaskId(), TaskType.MOVE_VOLUME,
                move.getVolume(), spm.answer(move.getEnvelope(), term))),
                context -> move.getHostId() == null ? runMove(move, term, context) : runLiveMove(move, term, context));
    }

    SpmCommandHandler.Job delete(DeleteVolume delete, SpmTerm term) {
        return new SpmCommandHandler.Job(delete.getTaskId(), List.of(SpmCommandHandler.running(delete.getTaskId(), TaskType.DELETE_VOLUME,
                delete.getVolume(), spm.answer(delete.getEnvelope(), term))), context -> runDelete(delete, term, context));
    }

    List<ProducerRecord<String, byte[]>> create(CreateVolume cmd, SpmTerm term) {
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        VolumeFacts volume = new VolumeFacts(cmd.getVolumeId(), cmd.getDomain().getId(), cmd.getName(), cmd.getVirtualSize(),
                cmd.getFormat(), cmd.getAllocation(), cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
        try {
            StorageDriver driver = spm.driver(cmd.getDomain());
            VolumeInfo info = driver.create(SpmDrivers.context(cmd.getDomain(), term), new VolumeSpec(cmd.getVolumeId(), cmd.getName(),
                    cmd.getVirtualSize(), SpmDrivers.driverFormat(cmd.getFormat()), SpmDrivers.driverAllocation(cmd.getAllocation()),
                    cmd.getInitialSize() == null ? 0 : cmd.getInitialSize()));
            LOG.info("epoch {}: created volume {} at {}", term.epoch(), cmd.getVolumeId(), info.location());
            return created(envelope, volume, TaskType.CREATE_VOLUME, info, null);
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            LOG.warn("epoch {}: volume {} not created: {} {}", term.epoch(), cmd.getVolumeId(), e.code(), e.getMessage());
            return SpmCommandHandler.failed(cmd.getEnvelope(), envelope, CreateVolume.class, TaskType.CREATE_VOLUME, volume, e.code().name(), e.getMessage());
        } catch (IllegalArgumentException e) {
            return SpmCommandHandler.failed(cmd.getEnvelope(), envelope, CreateVolume.class, TaskType.CREATE_VOLUME, volume, "INVALID_COMMAND", e.getMessage());
        }
    }

    /**
     * Grows a volume. Offline, under its lease, so that no host prepares it meanwhile: the
     * manager's "prepared nowhere" is checked again where the resize happens (a host's lease:
     * {@code VOLUME_IN_USE}). Quick (a header or a file's length), so it completes in the batch.
     * Live (the manager named the host it is prepared on), see {@link #beginLiveResize}.
     */
    List<ProducerRecord<String, byte[]>> resize(ResizeVolume cmd, SpmTerm term) {
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        String volumeId = cmd.getVolumeId();
        VolumeState volume = cmd.getVolume();
        if (cmd.getHostId() != null) {
            try {
                VolumeLease holder = leases.holderOf(volumeId);
                if (holder != null) {
                    return beginLiveResize(cmd, holder, envelope, term);
                }
                // Torn down since the manager asked: grown offline.
            } catch (Exception e) {
                return SpmCommandHandler.taskFailed(cmd.getEnvelope(), envelope, ResizeVolume.class, TaskType.RESIZE_VOLUME, cmd.getTaskId(),
                        volume, "LEASE_UNAVAILABLE", "cannot read the lease of volume " + volumeId + " to resize it: " + e);
            }
        }
        try {
            leases.acquire(volumeId);
        } catch (LeaseHeldException e) {
            boolean job = VolumeLeases.heldBySpm(e.holder().hostId());
            return SpmCommandHandler.taskFailed(cmd.getEnvelope(), envelope, ResizeVolume.class, TaskType.RESIZE_VOLUME, cmd.getTaskId(),
                    volume, job ? "VOLUME_BUSY" : "VOLUME_IN_USE", job ? "volume " + volumeId + " is held by an earlier SPM term's job; retry"
                            : "volume " + volumeId + " is prepared on host " + e.holder().hostId() + "; tear it down first");
        } catch (Exception e) {
            return SpmCommandHandler.taskFailed(cmd.getEnvelope(), envelope, ResizeVolume.class, TaskType.RESIZE_VOLUME, cmd.getTaskId(),
                    volume, "LEASE_UNAVAILABLE", "cannot take the lease of volume " + volumeId + " to resize it: " + e);
        }
        try {
            return resized(cmd.getEnvelope(), envelope, cmd.getTaskId(), cmd.getDomain(), volume, cmd.getVirtualSize(), false, term);
        } finally {
            releaseQuietly(volumeId);
        }
    }

    /**
     * A live resize's first step: the volume's host still holds its lease, so the SPM makes room
     * under its image (a device grown, an allocation raised) and asks the host to grow its
     * guest's disk ({@link GrowGuestDisk}); the size is recorded when the host answers
     * ({@link #guestDiskGrown}). The task stays RUNNING in between.
     */
    private List<ProducerRecord<String, byte[]>> beginLiveResize(ResizeVolume cmd, VolumeLease holder, Envelope envelope, SpmTerm term) {
        String volumeId = cmd.getVolumeId();
        if (!holder.hostId().equals(cmd.getHostId())) {
            boolean job = VolumeLeases.heldBySpm(holder.hostId());
            return SpmCommandHandler.taskFailed(cmd.getEnvelope(), envelope, ResizeVolume.class, TaskType.RESIZE_VOLUME, cmd.getTaskId(),
                    cmd.getVolume(), job ? "VOLUME_BUSY" : "VOLUME_IN_USE", job ? "volume " + volumeId + " is held by an SPM job; retry"
                            : "volume " + volumeId + " is prepared on host " + holder.hostId() + " now, not on " + cmd.getHostId() + "; ask again");
        }
        try {
            spm.driver(cmd.getDomain()).prepareLiveResize(SpmDrivers.context(cmd.getDomain(), term),
                    new VolumeUri(cmd.getDomain().getId(), volumeId), cmd.getVirtualSize());
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            LOG.warn("epoch {}: volume {} not resized live: {} {}", term.epoch(), volumeId, e.code(), e.getMessage());
            return SpmCommandHandler.taskFailed(cmd.getEnvelope(), envelope, ResizeVolume.class, TaskType.RESIZE_VOLUME, cmd.getTaskId(),
                    cmd.getVolume(), e.code().name(), e.getMessage());
        }
        LOG.info("epoch {}: volume {}: room made for {} bytes, host {} grows its guest's disk", term.epoch(), volumeId, cmd.getVirtualSize(),
                holder.hostId());
        return List.of(WorkerRecords.Task.of(cmd.getTaskId(), TaskType.RESIZE_VOLUME, cmd.getVolume(), cmd.getEnvelope().getTimestamp())
                        .in(envelope, io.storagebus.schema.TaskStatus.RUNNING),
                Records.of(Topics.hostCommands(holder.hostId()), volumeId, GrowGuestDisk.newBuilder().setEnvelope(envelope)
                        .setTaskId(cmd.getTaskId()).setVolumeId(volumeId).setDomain(cmd.getDomain()).setVolume(cmd.getVolume())
                        .setHostId(holder.hostId()).setVirtualSize(cmd.getVirtualSize()).build()));
    }

    /**
     * A live resize's host answered: its guest's QEMU grew the image, and the size is recorded;
     * or no guest used the volume there, and the SPM grows the image itself (a guest started
     * meanwhile holds the image's lock, and the resize fails rather than grow it under QEMU).
     */
    List<ProducerRecord<String, byte[]>> guestDiskGrown(GuestDiskGrown done, SpmTerm term) {
        Envelope envelope = spm.answer(done.getEnvelope(), term);
        if (done.getErrorCode() != null) {
            LOG.warn("epoch {}: volume {} not resized live: host {}: {} {}", term.epoch(), done.getVolumeId(), done.getHostId(),
                    done.getErrorCode(), done.getErrorMessage());
            return SpmCommandHandler.taskFailed(done.getEnvelope(), envelope, GuestDiskGrown.class, TaskType.RESIZE_VOLUME, done.getTaskId(),
                    done.getVolume(), done.getErrorCode(), done.getErrorMessage());
        }
        return resized(done.getEnvelope(), envelope, done.getTaskId(), done.getDomain(), done.getVolume(), done.getVirtualSize(),
                done.getLive(), term);
    }

    /** Grows the image unless a guest's QEMU did, records the size, and tells it. */
    private List<ProducerRecord<String, byte[]>> resized(Envelope cause, Envelope envelope, String taskId, DomainRef domain, VolumeState volume,
                                                         long virtualSize, boolean live, SpmTerm term) {
        String volumeId = volume.getId();
        try {
            VolumeInfo info = spm.driver(domain).resize(SpmDrivers.context(domain, term), new VolumeUri(domain.getId(), volumeId), virtualSize);
            LOG.info("epoch {}: volume {} resized{} from {} to {} bytes", term.epoch(), volumeId, live ? " live" : "", volume.getVirtualSize(),
                    info.virtualSize());
            VolumeState resized = VolumeState.newBuilder(volume).setEnvelope(envelope).setVirtualSize(info.virtualSize())
                    .setUri(info.location()).setStatus(VolumeStatus.READY).setTaskId(taskId).setErrorCode(null).setErrorMessage(null)
                    .build();
            return List.of(
                    Records.of(Topics.EVENTS, volumeId, VolumeResized.newBuilder().setEnvelope(envelope).setTaskId(taskId)
                            .setVolumeId(volumeId).setDomainId(domain.getId()).setPreviousVirtualSize(volume.getVirtualSize())
                            .setVirtualSize(info.virtualSize()).setLive(live).build()),
                    Records.of(Topics.VOLUME_STATE, volumeId, resized),
                    WorkerRecords.Task.of(taskId, TaskType.RESIZE_VOLUME, resized, cause.getTimestamp()).succeeded(envelope));
        } catch (DriverException e) {
            SpmDrivers.failedOn(domain, e, term);
            LOG.warn("epoch {}: volume {} not resized: {} {}", term.epoch(), volumeId, e.code(), e.getMessage());
            return SpmCommandHandler.taskFailed(cause, envelope, ResizeVolume.class, TaskType.RESIZE_VOLUME, taskId, volume, e.code().name(),
                    e.getMessage());
        }
    }

    /**
     * Brings a volume back from the trash under its id: quick (a rename), so it completes in the
     * batch. A volume the trash no longer has (purged meanwhile) fails the task with NOT_FOUND.
     */
    List<ProducerRecord<String, byte[]>> untrash(UntrashVolume cmd, SpmTerm term) {
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        VolumeState volume = cmd.getVolume();
        try {
            StorageDriver driver = spm.driver(cmd.getDomain());
            DomainContext domain = SpmDrivers.context(cmd.getDomain(), term);
            VolumeUri uri = new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId());
            VolumeInfo info;
            try {
                info = driver.restore(domain, uri);
            } catch (DriverException e) {
                if (e.code() != DriverException.Code.NOT_FOUND || driver.listDelinked(domain).stream().anyMatch(v -> v.volumeId().equals(cmd.getVolumeId()))) {
                    throw e;
                }
                info = driver.info(domain, uri); // brought back already: this command again
            }
            LOG.info("epoch {}: volume {} back from the trash", term.epoch(), cmd.getVolumeId());
            // Its chain as the storage has it: a volume imported into the trash was listed without one.
            VolumeState back = VolumeState.newBuilder(volume).setEnvelope(envelope).setTaskId(cmd.getTaskId()).setStatus(VolumeStatus.READY)
                    .setTrashedAt(null).setUri(info.location()).setSnapshots(SpmDrivers.snapshotRefs(driver.snapshots(domain, uri)))
                    .setErrorCode(null).setErrorMessage(null).build();
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeUntrashed.newBuilder().setEnvelope(envelope).setTaskId(cmd.getTaskId())
                            .setVolumeId(cmd.getVolumeId()).setDomainId(cmd.getDomain().getId()).setName(volume.getName()).build()),
                    Records.of(Topics.VOLUME_STATE, cmd.getVolumeId(), back),
                    WorkerRecords.Task.of(cmd.getTaskId(), TaskType.UNTRASH_VOLUME, back, cmd.getEnvelope().getTimestamp()).succeeded(envelope));
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            LOG.warn("epoch {}: volume {} not back from the trash: {} {}", term.epoch(), cmd.getVolumeId(), e.code(), e.getMessage());
            List<ProducerRecord<String, byte[]>> out = new ArrayList<>(SpmCommandHandler.taskFailed(cmd.getEnvelope(), envelope,
                    UntrashVolume.class, TaskType.UNTRASH_VOLUME, cmd.getTaskId(), volume, e.code().name(), e.getMessage()));
            out.add(WorkerRecords.volumeState(volume, envelope, cmd.getTaskId(), VolumeStatus.TRASHED, volume.getUri(), volume.getSnapshots(),
                    e.code().name(), e.getMessage()));
            return out;
        }
    }

    /** A copy-on-write clone in the source's domain: quick, so it completes in the batch. */
    List<ProducerRecord<String, byte[]>> cloneVolume(CloneVolume cmd, SpmTerm term) {
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        VolumeFacts volume = new VolumeFacts(cmd.getTargetVolumeId(), cmd.getDomain().getId(), cmd.getName(), cmd.getVirtualSize(),
                VolumeFormat.QCOW2, Allocation.THIN, cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
        try {
            VolumeInfo info = spm.driver(cmd.getDomain()).clone(SpmDrivers.context(cmd.getDomain(), term),
                    new VolumeUri(cmd.getDomain().getId(), cmd.getSourceVolumeId()), new VolumeSpec(cmd.getTargetVolumeId(), cmd.getName(),
                            cmd.getVirtualSize(), io.storagebus.driver.VolumeFormat.QCOW2, io.storagebus.driver.Allocation.THIN));
            LOG.info("epoch {}: cloned volume {} as {} at {}", term.epoch(), cmd.getSourceVolumeId(), cmd.getTargetVolumeId(), info.location());
            return created(envelope, volume, TaskType.CLONE_VOLUME, info, cmd.getSourceVolumeId());
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            return SpmCommandHandler.failed(cmd.getEnvelope(), envelope, CloneVolume.class, TaskType.CLONE_VOLUME, volume, e.code().name(), e.getMessage());
        } catch (IllegalArgumentException e) {
            return SpmCommandHandler.failed(cmd.getEnvelope(), envelope, CloneVolume.class, TaskType.CLONE_VOLUME, volume, "INVALID_COMMAND", e.getMessage());
        }
    }

    private List<ProducerRecord<String, byte[]>> created(Envelope envelope, VolumeFacts volume, TaskType taskType, VolumeInfo info,
                                                         String parentVolumeId) {
        VolumeCreated event = VolumeCreated.newBuilder()
                .setEnvelope(envelope).setTaskId(volume.taskId()).setVolumeId(volume.volumeId())
                .setDomainId(volume.domainId()).setName(volume.name()).setVirtualSize(volume.virtualSize())
                .setFormat(volume.format()).setAllocation(volume.allocation()).setUri(info.location()).setHostId(spm.config().hostId())
                .build();
        return List.of(
                Records.of(Topics.EVENTS, volume.volumeId(), event),
                WorkerRecords.volumeState(volume, envelope, VolumeStatus.READY, info.location(), null, null, parentVolumeId),
                WorkerRecords.Task.of(taskType, volume).succeeded(envelope));
    }

    private static VolumeFacts copyTarget(CopyVolume cmd) {
        return new VolumeFacts(cmd.getTargetVolumeId(), cmd.getTarget().getId(), cmd.getTargetName(), cmd.getVirtualSize(),
                cmd.getFormat(), cmd.getAllocation(), cmd.getTaskId(), cmd.getEnvelope().getTimestamp());
    }

    private List<ProducerRecord<String, byte[]>> runCopy(CopyVolume cmd, SpmTerm term, VolumeFacts target, Handled.JobContext context) {
        Envelope cause = cmd.getEnvelope();
        try {
            StorageDriver source = spm.driver(cmd.getSource());
            StorageDriver targetDriver = spm.driver(cmd.getTarget());
            VolumeSpec spec = new VolumeSpec(cmd.getTargetVolumeId(), cmd.getTargetName(), cmd.getVirtualSize(),
                    SpmDrivers.driverFormat(cmd.getFormat()), SpmDrivers.driverAllocation(cmd.getAllocation()));
            CopyResult result = source.copyTo(SpmDrivers.context(cmd.getSource(), term),
                    new VolumeUri(cmd.getSource().getId(), cmd.getSourceVolumeId()),
                    targetDriver, SpmDrivers.context(cmd.getTarget(), term), spec, (copied, total) -> {
                        SpmCommandHandler.stopIfCancelled(context);
                        Envelope e = spm.answer(cause, term);
                        context.progress(List.of(
                                Records.of(Topics.EVENTS, cmd.getTargetVolumeId(), VolumeCopyProgress.newBuilder().setEnvelope(e)
                                        .setTaskId(cmd.getTaskId()).setSourceVolumeId(cmd.getSourceVolumeId())
                                        .setTargetVolumeId(cmd.getTargetVolumeId()).setCopiedBytes(copied).setTotalBytes(total).build()),
                                WorkerRecords.Task.of(TaskType.COPY_VOLUME, target).progress(e, copied, total)));
                    });
            LOG.info("epoch {}: copied volume {} to {} ({} bytes, sha256 {})", term.epoch(), cmd.getSourceVolumeId(),
                    result.target().location(), result.bytes(), result.sha256());
            Envelope done = spm.answer(cause, term);
            VolumeCopied event = VolumeCopied.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                    .setSourceVolumeId(cmd.getSourceVolumeId()).setTargetVolumeId(cmd.getTargetVolumeId())
                    .setTargetDomainId(cmd.getTarget().getId()).setUri(result.target().location()).setBytes(result.bytes())
                    .setSha256(result.sha256()).setCopyMillis(result.copyNanos() / 1_000_000).setVerifyMillis(result.verifyNanos() / 1_000_000)
                    .build();
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getTargetVolumeId(), event),
                    WorkerRecords.volumeState(target, done, VolumeStatus.READY, result.target().location(), null, null),
                    WorkerRecords.Task.of(TaskType.COPY_VOLUME, target).succeeded(done, result.bytes()),
                    SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        } catch (DriverException | RuntimeException e) {
            if (SpmCommandHandler.abandoned(e, context, term, "copy of " + cmd.getSourceVolumeId())) {
                return List.of();
            }
            String code = SpmCommandHandler.failureCode(e, context);
            LOG.warn("epoch {}: copy of {} failed: {} {}", term.epoch(), cmd.getSourceVolumeId(), code, e.getMessage());
            List<ProducerRecord<String, byte[]>> outcome = new ArrayList<>(
                    SpmCommandHandler.failed(cause, spm.answer(cause, term), CopyVolume.class, TaskType.COPY_VOLUME, target, code, e.getMessage()));
            outcome.add(SpmCommandHandler.jobDone(term, cmd.getTaskId()));
            return outcome;
        }
    }

    /**
     * Moves the volume under its lease, so no host prepares it meanwhile: the source made live
     * again if an earlier run of this job delinked it and its term ended before the switch was
     * committed, a copy left by such a run discarded, then a verified copy, the source delinked,
     * and the switch (state, event, task, job done) returned for one transaction. Until that
     * commits, the volume's state names the source, which is live or delinked, never gone.
     */
    private List<ProducerRecord<String, byte[]>> runMove(MoveVolume cmd, SpmTerm term, Handled.JobContext context) {
        String volumeId = cmd.getVolumeId();
        try {
            acquireForJob(volumeId, context);
        } catch (LeaseHeldException e) {
            return notMoved(cmd.getEnvelope(), cmd.getEnvelope().getTimestamp(), cmd.getTaskId(), cmd.getVolume(), term, "VOLUME_IN_USE",
                    "volume " + volumeId + " is prepared on host " + e.holder().hostId()
                    + " (lease epoch " + e.holder().epoch() + "); tear it down first");
        } catch (Exception e) {
            return notMoved(cmd.getEnvelope(), cmd.getEnvelope().getTimestamp(), cmd.getTaskId(), cmd.getVolume(), term, "LEASE_UNAVAILABLE",
                    "cannot take the lease of volume " + volumeId + " to move it: " + e);
        }
        try {
            MoveEnds m = ends(cmd, term);
            liveAgain(m.from(), m.source(), m.sourceUri());
            List<SnapshotInfo> snapshots = movableChain(m.from(), m.source(), m.sourceUri());
            discardEarlierCopy(m.to(), m.target(), m.targetUri());
            VolumeState volume = cmd.getVolume();
            Allocation allocation = allocationIn(m.to(), volume);
            VolumeSpec spec = new VolumeSpec(volumeId, volume.getName(), volume.getVirtualSize(), SpmDrivers.driverFormat(volume.getFormat()),
                    SpmDrivers.driverAllocation(allocation));
            CopyListener progress = moveProgress(cmd, term, context);
            CopyResult result = snapshots.isEmpty() ? m.from().copyTo(m.source(), m.sourceUri(), m.to(), m.target(), spec, progress)
                    : VolumeCopier.copyChain(m.from(), m.source(), m.sourceUri(), snapshots, m.to(), m.target(), spec, progress);
            delinkSource(m.from(), m.source(), m.sourceUri(), m.to(), m.target(), m.targetUri());
            LOG.info("epoch {}: moved volume {} from domain {} to {} ({} bytes, sha256 {})", term.epoch(), volumeId,
                    cmd.getSource().getId(), cmd.getTarget().getId(), result.bytes(), result.sha256());
            Envelope done = spm.answer(cmd.getEnvelope(), term);
            VolumeState moved = VolumeState.newBuilder(volume).setEnvelope(done).setDomainId(cmd.getTarget().getId())
                    .setUri(result.target().location()).setAllocation(allocation).setStatus(VolumeStatus.READY).setTaskId(cmd.getTaskId())
                    .setErrorCode(null).setErrorMessage(null).build();
            return List.of(
                    Records.of(Topics.EVENTS, volumeId, VolumeMoved.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                            .setVolumeId(volumeId).setSourceDomainId(cmd.getSource().getId()).setTargetDomainId(cmd.getTarget().getId())
                            .setUri(result.target().location()).setBytes(result.bytes()).setSha256(result.sha256())
                            .setCopyMillis(result.copyNanos() / 1_000_000).setVerifyMillis(result.verifyNanos() / 1_000_000).build()),
                    Records.of(Topics.VOLUME_STATE, volumeId, moved),
                    WorkerRecords.Task.of(cmd.getTaskId(), TaskType.MOVE_VOLUME, moved, cmd.getEnvelope().getTimestamp())
                            .succeeded(done, result.bytes()),
                    SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        } catch (DriverException | RuntimeException e) {
            if (SpmCommandHandler.abandoned(e, context, term, "move of " + volumeId)) {
                return List.of();
            }
            String code = SpmCommandHandler.failureCode(e, context);
            LOG.warn("epoch {}: volume {} not moved: {} {}", term.epoch(), volumeId, code, e.getMessage());
            return notMoved(cmd.getEnvelope(), cmd.getEnvelope().getTimestamp(), cmd.getTaskId(), cmd.getVolume(), term, code, e.getMessage());
        } finally {
            releaseQuietly(volumeId);
        }
    }

    /**
     * A live move's first step, as a job: the frozen layers (the snapshots) copied and verified
     * under an empty top in the target, room made there for the mirror, then {@link MirrorVolume}
     * to the host and the job's end in one transaction. The host's guest keeps writing to the
     * source, under the host's lease, until its QEMU pivots; the host's {@link MirrorDone} ends
     * the move ({@link #mirrored}). A term that ends before that transaction runs this again,
     * and the host has not touched the target yet, so the copy it left is discarded.
     */
    private List<ProducerRecord<String, byte[]>> runLiveMove(MoveVolume cmd, SpmTerm term, Handled.JobContext context) {
        String volumeId = cmd.getVolumeId();
        try {
            MoveEnds m = ends(cmd, term);
            List<SnapshotInfo> snapshots = movableChain(m.from(), m.source(), m.sourceUri());
            discardEarlierCopy(m.to(), m.target(), m.targetUri());
            VolumeState volume = cmd.getVolume();
            // A thin target starts with room for what the mirror copies (not the default first allocation): it grows as it fills.
            VolumeSpec spec = new VolumeSpec(volumeId, volume.getName(), volume.getVirtualSize(), SpmDrivers.driverFormat(volume.getFormat()),
                    SpmDrivers.driverAllocation(allocationIn(m.to(), volume)), mirrorRoom(m));
            CopyResult frozen = VolumeCopier.copyFrozenChain(m.from(), m.source(), m.sourceUri(), snapshots, m.to(), m.target(), spec,
                    moveProgress(cmd, term, context));
            VolumeInfo top = roomForMirror(m);
            LOG.info("epoch {}: live move of volume {} to domain {}: {} bytes of frozen layers copied (sha256 {}); host {} mirrors the rest",
                    term.epoch(), volumeId, cmd.getTarget().getId(), frozen.bytes(), frozen.sha256(), cmd.getHostId());
            Envelope envelope = spm.answer(cmd.getEnvelope(), term);
            MirrorVolume mirror = MirrorVolume.newBuilder().setEnvelope(envelope)
                    .setTaskId(cmd.getTaskId()).setVolumeId(volumeId).setSource(cmd.getSource()).setTarget(cmd.getTarget())
                    .setVolume(volume).setHostId(cmd.getHostId()).setRequestedAt(cmd.getEnvelope().getTimestamp())
                    .setFrozenBytes(frozen.bytes()).setFrozenSha256(frozen.sha256())
                    .setTop(top.location()).setFormat(SpmDrivers.schemaFormat(top.format())).setWithBacking(!snapshots.isEmpty())
                    .setMirrorBandwidth(cmd.getMirrorBandwidth()).build();
            return List.of(
                    WorkerRecords.Task.of(cmd.getTaskId(), TaskType.MOVE_VOLUME, volume, cmd.getEnvelope().getTimestamp())
                            .progress(envelope, frozen.bytes(), null, "host " + cmd.getHostId() + "'s guest mirrors the active layer to domain "
                                    + cmd.getTarget().getId()),
                    Records.of(Topics.hostCommands(cmd.getHostId()), volumeId, mirror),
                    // The job goes on as the watch of the host's lease (watchMirror), until the host answers.
                    Records.of(Topics.spmJobs(term.pool()), cmd.getTaskId(), mirror));
        } catch (DriverException | RuntimeException e) {
            if (SpmCommandHandler.abandoned(e, context, term, "live move of " + volumeId)) {
                return List.of();
            }
            String code = SpmCommandHandler.failureCode(e, context);
            LOG.warn("epoch {}: volume {} not moved live: {} {}", term.epoch(), volumeId, code, e.getMessage());
            return notMoved(cmd.getEnvelope(), cmd.getEnvelope().getTimestamp(), cmd.getTaskId(), cmd.getVolume(), term, code, e.getMessage());
        }
    }

    /**
     * On storage that grows by extends, the target's top starts with room for what the mirror
     * copies: what the source top holds and one chunk more. Past that, the host reports the
     * target as the mirror fills it and the extend loop grows it like any thin volume. The top
     * as it is then.
     */
    private VolumeInfo roomForMirror(MoveEnds m) throws DriverException {
        VolumeInfo top = m.to().info(m.target(), m.targetUri());
        if (!m.to().capabilities().contains(Capability.EXTENDABLE) || top.allocatedSize() >= top.virtualSize()) {
            return top;
        }
        long wanted = mirrorRoom(m);
        try {
            return wanted > top.allocatedSize() ? m.to().extend(m.target(), m.targetUri(), wanted) : top;
        } catch (DriverException e) {
            m.to().destroy(m.target(), m.targetUri(), false);
            throw e;
        }
    }

    /** What the source top holds (not what it may hold: a file domain's thin top "allocates" its whole size) and one chunk. */
    private long mirrorRoom(MoveEnds m) throws DriverException {
        return m.from().info(m.source(), m.sourceUri()).actualSize() + spm.config().extendPolicy().chunk();
    }

    /** A move's two ends: the source and target domains under this term's epoch, their drivers and the volume in each. */
    private record MoveEnds(StorageDriver from, DomainContext source, VolumeUri sourceUri, StorageDriver to, DomainContext target,
                            VolumeUri targetUri) {
    }

    private MoveEnds ends(MoveVolume cmd, SpmTerm term) throws DriverException {
        return new MoveEnds(spm.driver(cmd.getSource()), SpmDrivers.context(cmd.getSource(), term), new VolumeUri(cmd.getSource().getId(),
                cmd.getVolumeId()), spm.driver(cmd.getTarget()), SpmDrivers.context(cmd.getTarget(), term),
                new VolumeUri(cmd.getTarget().getId(), cmd.getVolumeId()));
    }

    /** What the move's copy reports: progress events and the task's bytes, with its phase; a cancel stops it here. */
    private CopyListener moveProgress(MoveVolume cmd, SpmTerm term, Handled.JobContext context) {
        String volumeId = cmd.getVolumeId();
        String phase = cmd.getHostId() == null ? "copying the volume's layers to domain " + cmd.getTarget().getId()
                : "copying the snapshot layers to domain " + cmd.getTarget().getId() + "; then host " + cmd.getHostId()
                        + "'s guest mirrors the active layer";
        return (copied, total) -> {
            SpmCommandHandler.stopIfCancelled(context);
            Envelope e = spm.answer(cmd.getEnvelope(), term);
            context.progress(List.of(
                    Records.of(Topics.EVENTS, volumeId, VolumeCopyProgress.newBuilder().setEnvelope(e).setTaskId(cmd.getTaskId())
                            .setSourceVolumeId(volumeId).setTargetVolumeId(volumeId).setCopiedBytes(copied).setTotalBytes(total)
                            .setPhase(LAYERS).build()),
                    WorkerRecords.Task.of(cmd.getTaskId(), TaskType.MOVE_VOLUME, cmd.getVolume(), cmd.getEnvelope().getTimestamp())
                            .progress(e, copied, total, phase)));
        };
    }

    /** {@link VolumeCopyProgress#getPhase} of a move's copy of layers by the SPM. */
    static final String LAYERS = "layers";

    /** The code of a live move given up because its host let go of the volume's lease without answering. */
    static final String HOST_LOST = "HOST_LOST";

    /**
     * A live move in its host's hands, as the jobs topic keeps it: the SPM watches the volume's
     * lease (a ZooKeeper watch, no polling) and, if it ends before the host answered (the host's
     * worker died, or lost ZooKeeper), answers for the host with {@link #HOST_LOST} on the SPM's
     * topic, keyed by the volume, so it is decided after any answer the host sent before. The
     * watch ends with the term.
     */
    SpmCommandHandler.Job watchMirror(MirrorVolume cmd, SpmTerm term) {
        return new SpmCommandHandler.Job(cmd.getTaskId(), List.of(), context -> {
            AtomicBoolean watching = new AtomicBoolean(true);
            mirrorWatches.put(cmd.getTaskId(), watching);
            leases.whenReleased(cmd.getVolumeId(), () -> watching.get() && !context.cancelled(), () -> {
                mirrorWatches.remove(cmd.getTaskId(), watching);
                LOG.warn("epoch {}: host {} let go of volume {} during its live move (task {}) without answering", term.epoch(),
                        cmd.getHostId(), cmd.getVolumeId(), cmd.getTaskId());
                context.progress(List.of(Records.of(Topics.spmCommands(term.pool()), cmd.getVolumeId(), MirrorDone.newBuilder()
                        .setEnvelope(spm.answer(cmd.getEnvelope(), term)).setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId())
                        .setSource(cmd.getSource()).setTarget(cmd.getTarget()).setVolume(cmd.getVolume()).setHostId(cmd.getHostId())
                        .setRequestedAt(cmd.getRequestedAt()).setFrozenBytes(cmd.getFrozenBytes()).setFrozenSha256(cmd.getFrozenSha256())
                        .setMirroredBytes(0).setErrorCode(HOST_LOST).setErrorMessage("host " + cmd.getHostId()
                                + " let go of the volume's lease during the mirror without answering (its worker stopped, or lost ZooKeeper)")
                        .build())));
            });
            return List.of();
        });
    }

    /**
     * The host's answer to a live move (or the SPM's, for a host that was lost). Pivoted: the
     * source, which no one uses any more, is delinked and the volume's state switches to the
     * target in one transaction with the event and the task. Not pivoted (failed, cancelled, the
     * guest gone): the guest still has the source, the volume stays where it was, and the
     * target's copy is destroyed, or kept delinked when the host could not follow QEMU to the
     * end of the mirror (QMP_ERROR) or was lost. An answer about a move already decided (the storage shows it:
     * a source or a target no longer live) changes nothing; every answer ends the move's watch.
     */
    List<ProducerRecord<String, byte[]>> mirrored(MirrorDone done, SpmTerm term) {
        String volumeId = done.getVolumeId();
        VolumeState volume = done.getVolume();
        VolumeUri sourceUri = new VolumeUri(done.getSource().getId(), volumeId);
        VolumeUri targetUri = new VolumeUri(done.getTarget().getId(), volumeId);
        Optional<String> decided = decidedAlready(done, sourceUri, targetUri, term);
        if (decided.isPresent() || !HOST_LOST.equals(done.getErrorCode())) {
            stopWatching(done.getTaskId());
        }
        if (decided.isPresent()) {
            LOG.warn("epoch {}: {} answer about the live move of volume {} (task {}) ignored: {}", term.epoch(),
                    done.getErrorCode() == null ? "a pivoted" : done.getErrorCode(), volumeId, done.getTaskId(), decided.get());
            return List.of(SpmCommandHandler.jobDone(term, done.getTaskId()));
        }
        if (HOST_LOST.equals(done.getErrorCode())) {
            return hostLost(done, term);
        }
        if (done.getErrorCode() != null) {
            // QEMU's end of a mirror is unknown to a host that lost its connection to it: that copy is kept, delinked.
            boolean keep = "QMP_ERROR".equals(done.getErrorCode());
            try {
                StorageDriver to = spm.driver(done.getTarget());
                DomainContext target = SpmDrivers.context(done.getTarget(), term);
                unlessAbsent(() -> {
                    if (keep) {
                        to.delink(target, targetUri);
                    } else {
                        to.destroy(target, targetUri, false);
                    }
                });
            } catch (DriverException e) {
                LOG.warn("epoch {}: the target copy {} of a live move that did not pivot is left behind: {}", term.epoch(), targetUri,
                        e.getMessage());
            }
            LOG.warn("epoch {}: volume {} not moved live: host {} answered {} {}", term.epoch(), volumeId, done.getHostId(),
                    done.getErrorCode(), done.getErrorMessage());
            return notMoved(done.getEnvelope(), done.getRequestedAt(), done.getTaskId(), volume, term, done.getErrorCode(), done.getErrorMessage());
        }
        try {
            StorageDriver from = spm.driver(done.getSource());
            DomainContext source = SpmDrivers.context(done.getSource(), term);
            unlessAbsent(() -> from.purge(source, sourceUri));
            from.delink(source, sourceUri);
        } catch (DriverException e) {
            // The guest writes to the target now: the volume is there whatever became of the stale source.
            LOG.warn("epoch {}: volume {} moved live, but its stale source {} could not be delinked: {}", term.epoch(), volumeId, sourceUri,
                    e.getMessage());
        }
        String location = volume.getUri();
        Allocation allocation = volume.getAllocation();
        try {
            StorageDriver to = spm.driver(done.getTarget());
            location = to.info(SpmDrivers.context(done.getTarget(), term), targetUri).location();
            allocation = allocationIn(to, volume);
        } catch (DriverException e) {
            LOG.warn("epoch {}: cannot read where volume {} is in domain {}: {}", term.epoch(), volumeId, done.getTarget().getId(), e.getMessage());
        }
        LOG.info("epoch {}: moved volume {} live from domain {} to {} on host {} ({} bytes copied, {} mirrored)", term.epoch(), volumeId,
                done.getSource().getId(), done.getTarget().getId(), done.getHostId(), done.getFrozenBytes(), done.getMirroredBytes());
        Envelope envelope = spm.answer(done.getEnvelope(), term);
        VolumeState moved = VolumeState.newBuilder(volume).setEnvelope(envelope).setDomainId(done.getTarget().getId()).setUri(location)
                .setAllocation(allocation).setStatus(VolumeStatus.READY)
                .setTaskId(done.getTaskId()).setErrorCode(null).setErrorMessage(null).build();
        return List.of(
                Records.of(Topics.EVENTS, volumeId, VolumeMoved.newBuilder().setEnvelope(envelope).setTaskId(done.getTaskId())
                        .setVolumeId(volumeId).setSourceDomainId(done.getSource().getId()).setTargetDomainId(done.getTarget().getId())
                        .setUri(location).setBytes(done.getFrozenBytes()).setSha256(done.getFrozenSha256()).setCopyMillis(0)
                        .setVerifyMillis(0).setLive(true).setHostId(done.getHostId()).setMirroredBytes(done.getMirroredBytes()).build()),
                Records.of(Topics.VOLUME_STATE, volumeId, moved),
                WorkerRecords.Task.of(done.getTaskId(), TaskType.MOVE_VOLUME, moved, done.getRequestedAt())
                        .succeeded(envelope, done.getFrozenBytes() + done.getMirroredBytes()),
                SpmCommandHandler.jobDone(term, done.getTaskId()));
    }

    /** The move is decided: its host's lease is no longer watched. */
    private void stopWatching(String taskId) {
        AtomicBoolean watching = mirrorWatches.remove(taskId);
        if (watching != null) {
            watching.set(false);
        }
    }

    /**
     * Why an answer comes too late, if it does: the move it is about was decided before (its
     * source delinked by a pivot, or its target removed or delinked when it was given up). A
     * storage that cannot say is no reason to ignore the answer.
     */
    private Optional<String> decidedAlready(MirrorDone done, VolumeUri sourceUri, VolumeUri targetUri, SpmTerm term) {
        try {
            if (!live(spm.driver(done.getSource()), SpmDrivers.context(done.getSource(), term), sourceUri)) {
                return Optional.of("its source " + sourceUri + " is no longer live: the guest pivoted before");
            }
            if (!live(spm.driver(done.getTarget()), SpmDrivers.context(done.getTarget(), term), targetUri)) {
                return Optional.of("its target copy " + targetUri + " is no longer live: the move was given up before");
            }
        } catch (DriverException e) {
            LOG.warn("epoch {}: cannot tell whether the live move of {} was decided: {}", term.epoch(), done.getVolumeId(), e.getMessage());
        }
        return Optional.empty();
    }

    private static boolean live(StorageDriver driver, DomainContext domain, VolumeUri volume) throws DriverException {
        try {
            driver.info(domain, volume);
            return true;
        } catch (DriverException e) {
            if (e.code() == DriverException.Code.NOT_FOUND) {
                return false;
            }
            throw e;
        }
    }

    /**
     * The host let go of the lease without answering. If no one holds the lease now, no guest
     * writes under it: the volume stays the source, which the guest used unless it pivoted just
     * before its host stopped; the target's copy is delinked, not destroyed, so the writes of
     * that rare case are not lost either. A lease held again means a host has the volume: the
     * answer is stale and the move is left as it is.
     */
    private List<ProducerRecord<String, byte[]>> hostLost(MirrorDone done, SpmTerm term) {
        String volumeId = done.getVolumeId();
        try {
            VolumeLease holder = leases.holderOf(volumeId);
            if (holder != null) {
                LOG.warn("epoch {}: volume {} is leased again (host {}, epoch {}); its live move's HOST_LOST is stale", term.epoch(), volumeId,
                        holder.hostId(), holder.epoch());
                return List.of();
            }
        } catch (Exception e) {
            // Its watch, resumed by the next term from the jobs topic, answers again.
            LOG.warn("epoch {}: cannot tell who holds volume {} ({}); its live move is decided by the next term", term.epoch(), volumeId,
                    e.toString());
            return List.of();
        }
        VolumeUri targetUri = new VolumeUri(done.getTarget().getId(), volumeId);
        String kept;
        try {
            spm.driver(done.getTarget()).delink(SpmDrivers.context(done.getTarget(), term), targetUri);
            kept = "; its copy in domain " + done.getTarget().getId() + " is kept delinked";
        } catch (DriverException e) {
            kept = "; its copy in domain " + done.getTarget().getId() + " could not be delinked: " + e.getMessage();
        }
        LOG.warn("epoch {}: live move of volume {} given up: {}{}", term.epoch(), volumeId, done.getErrorMessage(), kept);
        return notMoved(done.getEnvelope(), done.getRequestedAt(), done.getTaskId(), done.getVolume(), term, HOST_LOST,
                done.getErrorMessage() + "; the volume stays in its source domain" + kept);
    }

    /**
     * A raw volume has no thin form on block storage (a thin volume there grows by extends of
     * its qcow2 layer), so a thin raw volume moved onto a domain that extends becomes
     * preallocated; everything else keeps its allocation.
     */
    private static Allocation allocationIn(StorageDriver target, VolumeState volume) {
        return volume.getFormat() == VolumeFormat.RAW && volume.getAllocation() == Allocation.THIN
                && target.capabilities().contains(Capability.EXTENDABLE) ? Allocation.PREALLOCATED : volume.getAllocation();
    }

    /** A source an earlier run delinked before its term ended is restored; a live one is left as it is. */
    private static void liveAgain(StorageDriver driver, DomainContext domain, VolumeUri volume) throws DriverException {
        try {
            driver.info(domain, volume);
        } catch (DriverException e) {
            if (e.code() != DriverException.Code.NOT_FOUND) {
                throw e;
            }
            try {
                driver.restore(domain, volume);
            } catch (DriverException notDelinked) {
                throw notDelinked.code() == DriverException.Code.NOT_FOUND ? e : notDelinked;
            }
            LOG.info("volume {} restored in its source domain: an earlier move delinked it but did not switch it over", volume);
        }
    }

    /**
     * The volume's snapshots, oldest first, if it can be moved now. The manager refused a clone
     * and a snapshot being made or merged when the request came; either may have happened since,
     * so the storage is asked again here, where the copy happens.
     */
    private static List<SnapshotInfo> movableChain(StorageDriver driver, DomainContext domain, VolumeUri volume) throws DriverException {
        if (driver.parentOf(domain, volume).isPresent()) {
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + volume + " is a copy-on-write clone; copy it instead");
        }
        List<SnapshotInfo> snapshots = driver.snapshots(domain, volume);
        for (SnapshotInfo snapshot : snapshots) {
            if (snapshot.status() != SnapshotStatus.READY) {
                throw new DriverException(DriverException.Code.CONFLICT, "snapshot " + snapshot.snapshotId() + " of volume " + volume
                        + " is " + snapshot.status() + "; a volume moves once its snapshots are made or merged");
            }
        }
        return snapshots;
    }

    /**
     * Clears the target for the copy: what an earlier run left there before its term ended is
     * not the volume yet (the state still names the source), and a delinked copy is what an
     * earlier move away from this domain left, older than the source.
     */
    private static void discardEarlierCopy(StorageDriver driver, DomainContext domain, VolumeUri volume) throws DriverException {
        if (unlessAbsent(() -> driver.destroy(domain, volume, false))) {
            LOG.info("discarded {}: an earlier run of its move copied it there but did not switch it over", volume);
        }
        if (unlessAbsent(() -> driver.purge(domain, volume))) {
            LOG.info("purged the delinked {}: what an earlier move away from that domain left", volume);
        }
    }

    /**
     * The source is delinked, not destroyed (an older delinked copy of it, from an earlier move
     * away, goes first); if that fails the copy goes, and the volume stays where it was.
     */
    private static void delinkSource(StorageDriver from, DomainContext source, VolumeUri sourceUri, StorageDriver to, DomainContext target,
                                     VolumeUri targetUri) throws DriverException {
        try {
            unlessAbsent(() -> from.purge(source, sourceUri));
            from.delink(source, sourceUri);
        } catch (DriverException e) {
            try {
                to.destroy(target, targetUri, false);
            } catch (DriverException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private interface StorageAction {
        void run() throws DriverException;
    }

    /** Runs an action that removes something, and says whether there was something; nothing there to remove is fine. */
    private static boolean unlessAbsent(StorageAction action) throws DriverException {
        try {
            action.run();
            return true;
        } catch (DriverException e) {
            if (e.code() != DriverException.Code.NOT_FOUND) {
                throw e;
            }
            return false;
        }
    }

    /**
     * The move failed: the task (created when the move was asked for) with its reason, the volume
     * READY where it was; the job, if one still runs, done.
     */
    private List<ProducerRecord<String, byte[]>> notMoved(Envelope cause, Instant requestedAt, String taskId, VolumeState volume, SpmTerm term,
                                                          String code, String message) {
        Envelope failed = spm.answer(cause, term);
        return List.of(
                WorkerRecords.commandFailed(failed, cause, MoveVolume.class.getName(), taskId, volume.getId(), code, message),
                WorkerRecords.Task.of(taskId, TaskType.MOVE_VOLUME, volume, requestedAt).failed(failed, code, message),
                WorkerRecords.volumeState(volume, failed, taskId, VolumeStatus.READY, volume.getUri(), volume.getSnapshots(), code, message),
                SpmCommandHandler.jobDone(term, taskId));
    }

    /**
     * Destroys the volume and every layer, delinks it into the trash ({@code trash}), or purges
     * it from the trash (a TRASHED volume); a volume already gone (or already in the trash)
     * counts as done, so a job run again by the next term does no harm. The manager refused a
     * volume prepared on a host when the request came, but a prepare may have come since: the SPM
     * holds the volume's lease while it works, so a host that has it makes the delete fail, and a
     * host that asks for it meanwhile is refused.
     */
    private List<ProducerRecord<String, byte[]>> runDelete(DeleteVolume cmd, SpmTerm term, Handled.JobContext context) {
        VolumeState volume = cmd.getVolume();
        boolean purge = volume.getStatus() == VolumeStatus.TRASHED;
        try {
            acquireForJob(cmd.getVolumeId(), context);
        } catch (LeaseHeldException e) {
            LOG.warn("epoch {}: volume {} not deleted: {}", term.epoch(), cmd.getVolumeId(), e.getMessage());
            return notDeleted(cmd, term, "VOLUME_IN_USE", "volume " + cmd.getVolumeId() + " is prepared on host " + e.holder().hostId()
                    + " (lease epoch " + e.holder().epoch() + "); tear it down first");
        } catch (Exception e) {
            // ZooKeeper could not say who uses the volume: better not deleted than deleted under a guest.
            return notDeleted(cmd, term, "LEASE_UNAVAILABLE", "cannot take the lease of volume " + cmd.getVolumeId() + " to delete it: " + e);
        }
        try {
            StorageDriver driver = spm.driver(cmd.getDomain());
            DomainContext domain = SpmDrivers.context(cmd.getDomain(), term);
            VolumeUri uri = new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId());
            try {
                if (cmd.getTrash() && !purge) {
                    driver.delink(domain, uri);
                } else if (purge && cmd.getWipe()) {
                    // Only a live volume is wiped: it comes back for as long as its zeros take.
                    driver.restore(domain, uri);
                    driver.destroy(domain, uri, true);
                } else if (purge) {
                    driver.purge(domain, uri);
                } else {
                    driver.destroy(domain, uri, cmd.getWipe());
                }
            } catch (DriverException e) {
                if (e.code() != DriverException.Code.NOT_FOUND) {
                    throw e;
                }
            } finally {
                releaseQuietly(cmd.getVolumeId());
            }
            Envelope done = spm.answer(cmd.getEnvelope(), term);
            if (cmd.getTrash() && !purge) {
                LOG.info("epoch {}: volume {} moved to the trash", term.epoch(), cmd.getVolumeId());
                VolumeState trashed = VolumeState.newBuilder(volume).setEnvelope(done).setTaskId(cmd.getTaskId()).setStatus(VolumeStatus.TRASHED)
                        .setTrashedAt(done.getTimestamp()).setErrorCode(null).setErrorMessage(null).build();
                return List.of(
                        Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeTrashed.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                                .setVolumeId(cmd.getVolumeId()).setDomainId(cmd.getDomain().getId()).setName(volume.getName()).build()),
                        Records.of(Topics.VOLUME_STATE, cmd.getVolumeId(), trashed),
                        WorkerRecords.Task.of(cmd.getTaskId(), TaskType.DELETE_VOLUME, volume, cmd.getEnvelope().getTimestamp()).succeeded(done),
                        SpmCommandHandler.jobDone(term, cmd.getTaskId()));
            }
            LOG.info("epoch {}: {} volume {}{}", term.epoch(), purge ? "purged" : "deleted", cmd.getVolumeId(), cmd.getWipe() ? " (wiped)" : "");
            return List.of(
                    Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeDeleted.newBuilder().setEnvelope(done).setTaskId(cmd.getTaskId())
                            .setVolumeId(cmd.getVolumeId()).setDomainId(cmd.getDomain().getId()).setWiped(cmd.getWipe()).build()),
                    WorkerRecords.tombstone(Topics.VOLUME_STATE, cmd.getVolumeId()),
                    WorkerRecords.Task.of(cmd.getTaskId(), TaskType.DELETE_VOLUME, volume, cmd.getEnvelope().getTimestamp()).succeeded(done),
                    SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            LOG.warn("epoch {}: volume {} not deleted: {} {}", term.epoch(), cmd.getVolumeId(), e.code(), e.getMessage());
            return notDeleted(cmd, term, e.code().name(), e.getMessage());
        } catch (FencedException e) {
            return List.of();
        }
    }

    /**
     * Takes the volume's lease for a job. A lease an SPM holds is an earlier term's run of the
     * same job (the manager starts one task at a time on a volume), still stopping or gone with
     * that SPM's session: it is waited for, without polling, for as long as this term lasts. A
     * host's lease is refused ({@link LeaseHeldException}): a guest may be using the volume.
     */
    private void acquireForJob(String volumeId, Handled.JobContext context) throws Exception {
        while (true) {
            try {
                leases.acquire(volumeId);
                return;
            } catch (LeaseHeldException e) {
                if (!VolumeLeases.heldBySpm(e.holder().hostId())) {
                    throw e;
                }
                LOG.info("volume {}'s lease is held by {} (an earlier SPM term's job, stopping): waiting for it", volumeId,
                        e.holder().hostId());
                CountDownLatch released = new CountDownLatch(1);
                leases.whenReleased(volumeId, () -> !context.cancelled(), released::countDown);
                while (!released.await(1, TimeUnit.SECONDS)) {
                    if (context.cancelled()) {
                        throw new IllegalStateException("the SPM term ended while waiting for the lease of volume " + volumeId);
                    }
                }
            }
        }
    }

    /** A lease left behind goes with the SPM's session; until then a prepare of the (deleted) volume is refused anyway. */
    private void releaseQuietly(String volumeId) {
        try {
            leases.release(volumeId);
        } catch (Exception e) {
            LOG.warn("cannot release the lease of deleted volume {}: {}", volumeId, e.toString());
        }
    }

    private List<ProducerRecord<String, byte[]>> notDeleted(DeleteVolume cmd, SpmTerm term, String code, String message) {
        VolumeState volume = cmd.getVolume();
        Envelope failed = spm.answer(cmd.getEnvelope(), term);
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>(SpmCommandHandler.taskFailed(cmd.getEnvelope(), failed, DeleteVolume.class,
                TaskType.DELETE_VOLUME, cmd.getTaskId(), volume, code, message));
        // As it was: READY (or FAILED) for a delete, TRASHED for a purge.
        out.add(WorkerRecords.volumeState(volume, failed, cmd.getTaskId(), volume.getStatus(), volume.getUri(), volume.getSnapshots(),
                code, message));
        out.add(SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        return out;
    }
}
