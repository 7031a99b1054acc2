package io.storagebus.manager.requests;

import java.util.List;
import java.util.UUID;

import io.storagebus.bus.TaskType;
import io.storagebus.driver.Capability;
import io.storagebus.manager.backup.BackupPlan;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.Invalid;
import io.storagebus.manager.requests.RequestException.NotFound;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CloneVolume;
import io.storagebus.schema.DeleteSnapshot;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.schema.SnapshotVolume;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.vertx.core.Future;

/**
 * A volume's chain of qcow2 layers: snapshots (live through the guest's QEMU when the volume is
 * prepared), merging a snapshot away, and copy-on-write clones that turn the source into a
 * template.
 */
public record SnapshotRequests(Resources resources, TaskSubmitter submitter) {
    /** A user's snapshot: the names the backup policy gives its own snapshots are not theirs to take. */
    public Future<Submitted> snapshot(String volumeId, String name, Origin origin) {
        VolumeState volume = resources.ready(resources.volume(volumeId));
        if (name.startsWith(BackupPlan.SNAPSHOT_PREFIX)) {
            throw new Invalid("name", "RESERVED_NAME", "snapshot names starting with '" + BackupPlan.SNAPSHOT_PREFIX
                    + "' belong to the volume's backup policy");
        }
        return snapshot(volume, name, origin);
    }

    /** Takes a snapshot of a READY volume, live through its host's QEMU if it is prepared. */
    public Future<Submitted> snapshot(VolumeState volume, String name, Origin origin) {
        resources.ready(volume);
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        requireSnapshots(domain, volume);
        if (volume.getSnapshots().stream().anyMatch(s -> s.getName().equals(name))) {
            throw new Conflict("SNAPSHOT_EXISTS", "volume '" + volume.getName() + "' has a snapshot named '" + name + "' already", "name");
        }
        requireIdle(volume);
        String taskId = UUID.randomUUID().toString();
        String snapshotId = UUID.randomUUID().toString();
        String hostId = resources.preparedOn(volume).orElse(null);
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        SnapshotVolume command = SnapshotVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(Resources.domainRef(domain)).setVolume(volume).setSnapshotId(snapshotId).setName(name).setHostId(hostId).build();
        return submitter.spmTask(TaskType.SNAPSHOT_VOLUME, volume.getDomainId(), volume.getId(), command, List.of(), List.of())
                .map(s -> s.with("snapshotId", snapshotId).with("live", hostId != null));
    }

    /** A user's snapshot deletion: of a READY volume. */
    public Future<Submitted> deleteSnapshot(String volumeId, String snapshotId, Origin origin) {
        return deleteSnapshot(resources.ready(resources.volume(volumeId)), snapshotId, origin);
    }

    /** Deletes a snapshot by merging its layer into the layer above: live through the host's QEMU if the volume is prepared. */
    public Future<Submitted> deleteSnapshot(VolumeState volume, String snapshotId, Origin origin) {
        SnapshotRef snapshot = volume.getSnapshots().stream().filter(s -> s.getSnapshotId().equals(snapshotId)).findFirst()
                .orElseThrow(() -> new NotFound("SNAPSHOT_NOT_FOUND", "volume '" + volume.getName() + "' has no snapshot '" + snapshotId + "'"));
        if (!"MERGING".equals(snapshot.getStatus())) {
            requireIdle(volume);
        }
        if (isTemplate(volume)) {
            throw new Conflict("VOLUME_HAS_CLONES", "volume '" + volume.getName() + "' is the template of clones; its snapshots stay", null);
        }
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        String taskId = UUID.randomUUID().toString();
        String hostId = resources.preparedOn(volume).orElse(null);
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        DeleteSnapshot command = DeleteSnapshot.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(Resources.domainRef(domain)).setVolume(volume).setSnapshotId(snapshotId).setHostId(hostId).build();
        return submitter.spmTask(TaskType.DELETE_SNAPSHOT, volume.getDomainId(), volume.getId(), command, List.of(), List.of())
                .map(s -> s.with("snapshotId", snapshotId).with("live", hostId != null));
    }

    /**
     * A copy-on-write clone in the same domain. The source becomes a template: it backs the clone
     * for as long as the clone exists, so it may no longer be prepared, deleted or merged.
     */
    public Future<Submitted> cloneVolume(String sourceId, String name, Origin origin) {
        VolumeState source = resources.ready(resources.volume(sourceId));
        DomainState domain = resources.usable(resources.domain(source.getDomainId()), null);
        if (!resources.capable(domain, Capability.CLONE_COW)) {
            throw new Conflict("CLONES_UNSUPPORTED", "domain '" + domain.getName() + "' (" + domain.getDriver()
                    + ") makes no copy-on-write clones; copy the volume instead (POST /api/v1/volumes/" + source.getId() + "/copy)", null);
        }
        resources.preparedOn(source).ifPresent(host -> {
            throw new Conflict("VOLUME_IN_USE", "volume '" + source.getName() + "' is prepared on host " + host
                    + "; a template must not change, tear it down first", null);
        });
        resources.requireFreeVolumeName(domain, name);
        String taskId = UUID.randomUUID().toString();
        String volumeId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        CloneVolume command = CloneVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setSourceVolumeId(source.getId())
                .setDomain(Resources.domainRef(domain)).setTargetVolumeId(volumeId).setName(name).setVirtualSize(source.getVirtualSize()).build();
        VolumeState creating = Resources.creating(envelope, volumeId, domain.getId(), name, source.getVirtualSize(), VolumeFormat.QCOW2,
                Allocation.THIN);
        creating.setParentVolumeId(source.getId());
        return submitter.newVolume(TaskType.CLONE_VOLUME, creating, command);
    }

    /** Snapshots need a driver that keeps them and a qcow2 volume. */
    public void requireSnapshots(DomainState domain, VolumeState volume) {
        if (!resources.capable(domain, Capability.SNAPSHOT)) {
            throw new Conflict("SNAPSHOTS_UNSUPPORTED", "domain '" + domain.getName() + "' (" + domain.getDriver()
                    + ") keeps no snapshots", null);
        }
        if (volume.getFormat() != VolumeFormat.QCOW2) {
            throw new Conflict("SNAPSHOTS_UNSUPPORTED", "volume '" + volume.getName() + "' is " + volume.getFormat()
                    + "; snapshots are qcow2 layers, so only qcow2 volumes have them", null);
        }
    }

    /** A volume that backs copy-on-write clones: its layers must not change. */
    private boolean isTemplate(VolumeState volume) {
        return !resources.view().clonesOf(volume.getId()).isEmpty();
    }

    /** One change of a chain at a time: the SPM refuses a second, so the manager says so first. */
    private static void requireIdle(VolumeState volume) {
        volume.getSnapshots().stream().filter(s -> !"READY".equals(s.getStatus())).findFirst().ifPresent(s -> {
            throw new Conflict("SNAPSHOT_BUSY", "snapshot '" + s.getName() + "' of volume '" + volume.getName() + "' is "
                    + s.getStatus() + "; one snapshot operation at a time", null);
        });
    }
}
