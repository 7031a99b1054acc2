package io.storagebus.worker.spm;

import io.storagebus.bus.TaskType;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.MergePlan;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeUri;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.DeleteSnapshot;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.LayerChange;
import io.storagebus.schema.LayerChangeDone;
import io.storagebus.schema.SnapshotCreated;
import io.storagebus.schema.SnapshotDeleted;
import io.storagebus.schema.SnapshotVolume;
import io.storagebus.schema.StreamLayer;
import io.storagebus.schema.SwitchToLayer;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.worker.WorkerRecords;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SPM's side of snapshots. Offline, a snapshot or a merge is one step. With the volume
 * prepared on a host, it is two: the SPM changes the chain and asks the host to change its
 * running guest the same way ({@link SwitchToLayer}, {@link StreamLayer}); the host answers on
 * the SPM's topic ({@link LayerChangeDone}) and the SPM commits the change, or undoes a snapshot
 * the guest could not be switched to. The task stays RUNNING in between.
 */
final class SnapshotCommands {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotCommands.class);
    static final TaskType SNAPSHOT_TASK = TaskType.SNAPSHOT_VOLUME;
    static final TaskType DELETE_TASK = TaskType.DELETE_SNAPSHOT;

    private final SpmDrivers spm;

    SnapshotCommands(SpmDrivers spm) {
        this.spm = spm;
    }

    List<ProducerRecord<String, byte[]>> snapshot(SnapshotVolume cmd, SpmTerm term) {
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        boolean live = cmd.getHostId() != null;
        try {
            StorageDriver driver = spm.driver(cmd.getDomain());
            DomainContext domain = SpmDrivers.context(cmd.getDomain(), term);
            VolumeUri uri = new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId());
            driver.snapshot(domain, uri, cmd.getSnapshotId(), cmd.getName(), live);
            String top = driver.info(domain, uri).location();
            ProducerRecord<String, byte[]> state = volumeState(cmd.getVolume(), envelope, cmd.getTaskId(), driver, domain, uri);
            if (!live) {
                LOG.info("epoch {}: snapshot {} of volume {} taken", term.epoch(), cmd.getSnapshotId(), cmd.getVolumeId());
                return List.of(created(cmd.getVolume(), envelope, cmd.getTaskId(), cmd.getSnapshotId(), cmd.getName(), false, top), state,
                        task(cmd.getTaskId(), SNAPSHOT_TASK, cmd.getVolume(), cmd.getEnvelope(), envelope, TaskStatus.SUCCEEDED));
            }
            LOG.info("epoch {}: snapshot {} of volume {}: new layer made, host {} switches its guest to it", term.epoch(),
                    cmd.getSnapshotId(), cmd.getVolumeId(), cmd.getHostId());
            return List.of(state, task(cmd.getTaskId(), SNAPSHOT_TASK, cmd.getVolume(), cmd.getEnvelope(), envelope, TaskStatus.RUNNING),
                    Records.of(Topics.hostCommands(cmd.getHostId()), cmd.getVolumeId(), SwitchToLayer.newBuilder().setEnvelope(envelope)
                            .setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId()).setDomain(cmd.getDomain()).setVolume(cmd.getVolume())
                            .setSnapshotId(cmd.getSnapshotId()).setHostId(cmd.getHostId()).setOverlay(path(top)).build()));
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            return SpmCommandHandler.taskFailed(cmd.getEnvelope(), envelope, SnapshotVolume.class, SNAPSHOT_TASK, cmd.getTaskId(),
                    cmd.getVolume(), e.code().name(), e.getMessage());
        }
    }

    /** Deleting a snapshot of a volume prepared on a host: the host streams it if a guest runs there. */
    List<ProducerRecord<String, byte[]>> beginMerge(DeleteSnapshot cmd, SpmTerm term) {
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        try {
            StorageDriver driver = spm.driver(cmd.getDomain());
            DomainContext domain = SpmDrivers.context(cmd.getDomain(), term);
            VolumeUri uri = new VolumeUri(cmd.getDomain().getId(), cmd.getVolumeId());
            MergePlan plan = driver.beginMerge(domain, uri, cmd.getSnapshotId());
            return List.of(volumeState(cmd.getVolume(), envelope, cmd.getTaskId(), driver, domain, uri),
                    task(cmd.getTaskId(), DELETE_TASK, cmd.getVolume(), cmd.getEnvelope(), envelope, TaskStatus.RUNNING),
                    Records.of(Topics.hostCommands(cmd.getHostId()), cmd.getVolumeId(), StreamLayer.newBuilder().setEnvelope(envelope)
                            .setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId()).setDomain(cmd.getDomain()).setVolume(cmd.getVolume())
                            .setSnapshotId(cmd.getSnapshotId()).setHostId(cmd.getHostId())
                            .setLayer(plan.layer()).setChild(plan.child()).setBase(plan.base()).build()));
        } catch (DriverException e) {
            SpmDrivers.failedOn(cmd.getDomain(), e, term);
            return SpmCommandHandler.taskFailed(cmd.getEnvelope(), envelope, DeleteSnapshot.class, DELETE_TASK, cmd.getTaskId(),
                    cmd.getVolume(), e.code().name(), e.getMessage());
        }
    }

    /**
     * A merge nobody streams (no host has the volume prepared, or its host runs no guest on it):
     * {@code qemu-img rebase} copies the layer's data, which can take long, so it runs as a job.
     */
    SpmCommandHandler.Job offlineMerge(DeleteSnapshot cmd, SpmTerm term) {
        return cmd.getHostId() != null ? null
                : mergeJob(cmd.getTaskId(), cmd.getEnvelope(), cmd.getDomain(), cmd.getVolume(), cmd.getSnapshotId(), term);
    }

    /** The offline merge a host's answer asks for (it found the guest gone), or null when the answer completes now. */
    SpmCommandHandler.Job offlineMerge(LayerChangeDone done, SpmTerm term) {
        return done.getChange() == LayerChange.MERGE && done.getErrorCode() == null && !done.getLive()
                ? mergeJob(done.getTaskId(), done.getEnvelope(), done.getDomain(), done.getVolume(), done.getSnapshotId(), term) : null;
    }

    private SpmCommandHandler.Job mergeJob(String taskId, Envelope cause, DomainRef domainRef, VolumeState volume, String snapshotId,
                                           SpmTerm term) {
        return new SpmCommandHandler.Job(taskId, List.of(SpmCommandHandler.running(taskId, DELETE_TASK, volume, spm.answer(cause, term))),
                context -> {
                    Envelope envelope = spm.answer(cause, term);
                    try {
                        StorageDriver driver = spm.driver(domainRef);
                        DomainContext domain = SpmDrivers.context(domainRef, term);
                        VolumeUri uri = new VolumeUri(domainRef.getId(), volume.getId());
                        driver.beginMerge(domain, uri, snapshotId);
                        driver.finishMerge(domain, uri, snapshotId, false);
                        LOG.info("epoch {}: snapshot {} of volume {} merged offline", term.epoch(), snapshotId, volume.getId());
                        List<ProducerRecord<String, byte[]>> out = new ArrayList<>(deleted(volume, envelope, taskId, snapshotId, false,
                                driver, domain, uri, cause));
                        out.add(SpmCommandHandler.jobDone(term, taskId));
                        return out;
                    } catch (DriverException | RuntimeException e) {
                        if (SpmCommandHandler.abandoned(e, context, term, "merge of snapshot " + snapshotId)) {
                            return List.of();
                        }
                        String code = e instanceof DriverException de ? de.code().name() : "INVALID_COMMAND";
                        List<ProducerRecord<String, byte[]>> out = new ArrayList<>(SpmCommandHandler.taskFailed(cause, envelope,
                                DeleteSnapshot.class, DELETE_TASK, taskId, volume, code, e.getMessage()));
                        out.add(SpmCommandHandler.jobDone(term, taskId));
                        return out;
                    }
                });
    }

    /** A host's answer: commit or undo the snapshot, or drop the layer it streamed away. */
    List<ProducerRecord<String, byte[]>> layerChanged(LayerChangeDone done, SpmTerm term) {
        Envelope envelope = spm.answer(done.getEnvelope(), term);
        boolean snapshot = done.getChange() == LayerChange.SNAPSHOT;
        TaskType taskType = snapshot ? SNAPSHOT_TASK : DELETE_TASK;
        VolumeState volume = done.getVolume();
        try {
            StorageDriver driver = spm.driver(done.getDomain());
            DomainContext domain = SpmDrivers.context(done.getDomain(), term);
            VolumeUri uri = new VolumeUri(done.getDomain().getId(), done.getVolumeId());
            if (snapshot && done.getErrorCode() == null) {
                var info = driver.commitSnapshot(domain, uri, done.getSnapshotId());
                LOG.info("epoch {}: snapshot {} of volume {} taken live on host {}", term.epoch(), done.getSnapshotId(), done.getVolumeId(),
                        done.getHostId());
                return List.of(created(volume, envelope, done.getTaskId(), done.getSnapshotId(), info.name(), done.getLive(),
                                driver.info(domain, uri).location()),
                        volumeState(volume, envelope, done.getTaskId(), driver, domain, uri),
                        task(done.getTaskId(), taskType, volume, done.getEnvelope(), envelope, TaskStatus.SUCCEEDED));
            }
            if (snapshot) {
                driver.abortSnapshot(domain, uri, done.getSnapshotId());
                LOG.warn("epoch {}: snapshot {} of volume {} undone: host {} could not switch its guest: {}", term.epoch(),
                        done.getSnapshotId(), done.getVolumeId(), done.getHostId(), done.getErrorMessage());
            } else if (done.getErrorCode() == null) {
                driver.finishMerge(domain, uri, done.getSnapshotId(), true);
                LOG.info("epoch {}: snapshot {} of volume {} merged live on host {}", term.epoch(), done.getSnapshotId(), done.getVolumeId(),
                        done.getHostId());
                return deleted(volume, envelope, done.getTaskId(), done.getSnapshotId(), true, driver, domain, uri, done.getEnvelope());
            }
            List<ProducerRecord<String, byte[]>> out = new ArrayList<>(SpmCommandHandler.taskFailed(done.getEnvelope(), envelope,
                    snapshot ? SnapshotVolume.class : DeleteSnapshot.class, taskType, done.getTaskId(), volume, done.getErrorCode(),
                    done.getErrorMessage()));
            out.add(volumeState(volume, envelope, done.getTaskId(), driver, domain, uri));
            return out;
        } catch (DriverException e) {
            SpmDrivers.failedOn(done.getDomain(), e, term);
            return SpmCommandHandler.taskFailed(done.getEnvelope(), envelope, LayerChangeDone.class, taskType, done.getTaskId(), volume,
                    e.code().name(), e.getMessage());
        }
    }

    private List<ProducerRecord<String, byte[]>> deleted(VolumeState volume, Envelope envelope, String taskId, String snapshotId,
                                                         boolean live, StorageDriver driver, DomainContext domain, VolumeUri uri,
                                                         Envelope cause) throws DriverException {
        return List.of(
                Records.of(Topics.EVENTS, volume.getId(), SnapshotDeleted.newBuilder().setEnvelope(envelope).setTaskId(taskId)
                        .setVolumeId(volume.getId()).setSnapshotId(snapshotId).setLive(live).build()),
                volumeState(volume, envelope, taskId, driver, domain, uri),
                task(taskId, DELETE_TASK, volume, cause, envelope, TaskStatus.SUCCEEDED));
    }

    private static ProducerRecord<String, byte[]> created(VolumeState volume, Envelope envelope, String taskId, String snapshotId,
                                                          String name, boolean live, String top) {
        return Records.of(Topics.EVENTS, volume.getId(), SnapshotCreated.newBuilder().setEnvelope(envelope).setTaskId(taskId)
                .setVolumeId(volume.getId()).setDomainId(volume.getDomainId()).setSnapshotId(snapshotId).setName(name)
                .setLive(live).setUri(top).build());
    }

    /** The volume with its chain as the storage now has it: its snapshots and its top layer. */
    private static ProducerRecord<String, byte[]> volumeState(VolumeState volume, Envelope envelope, String taskId, StorageDriver driver,
                                                              DomainContext domain, VolumeUri uri) throws DriverException {
        return WorkerRecords.volumeState(volume, envelope, taskId, VolumeStatus.READY, driver.info(domain, uri).location(),
                SpmDrivers.snapshotRefs(driver.snapshots(domain, uri)), null, null);
    }

    private static ProducerRecord<String, byte[]> task(String taskId, TaskType type, VolumeState volume, Envelope command, Envelope envelope,
                                                       TaskStatus status) {
        return WorkerRecords.Task.of(taskId, type, volume, command.getTimestamp()).in(envelope, status);
    }

    /** A host opens layers by path; the driver names them by URI. */
    private static String path(String location) {
        return location.startsWith("file:") ? Path.of(URI.create(location)).toString() : location;
    }
}
