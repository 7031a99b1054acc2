package io.storagebus.manager.api;

import io.storagebus.bus.TaskType;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import io.storagebus.bus.Topics;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.leases.VolumeLease;
import io.storagebus.manager.backup.BackupPlan;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.CloneVolume;
import io.storagebus.schema.DeleteSnapshot;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.schema.SnapshotVolume;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * A volume's chain and life: snapshots (taken live when the volume is prepared on a host),
 * their deletion (a merge), copy-on-write clones, and deleting the volume. Each is a command to
 * the pool's SPM and a task, answered 202.
 */
final class VolumeChainRoutes {
    private final RestApi api;
    private final StateView view;
    private final LeaseDirectory leases;
    private final DriverRegistry drivers;

    VolumeChainRoutes(RestApi api, StateView view, LeaseDirectory leases, DriverRegistry drivers) {
        this.api = api;
        this.view = view;
        this.leases = leases;
        this.drivers = drivers;
    }

    void register(Router router) {
        router.post("/api/v1/volumes/:id/snapshots").handler(this::snapshot);
        router.get("/api/v1/volumes/:id/snapshots").handler(ctx -> RestApi.ok(ctx, 200,
                new JsonArray(api.volumeOrThrow(ctx.pathParam("id")).getSnapshots().stream().map(Views::snapshot).toList())));
        router.delete("/api/v1/volumes/:id/snapshots/:snapshotId").handler(this::deleteSnapshot);
        router.post("/api/v1/volumes/:id/clone").handler(this::cloneVolume);
        router.delete("/api/v1/volumes/:id").handler(this::deleteVolume);
    }

    private void snapshot(RoutingContext ctx) {
        VolumeState volume = ready(api.volumeOrThrow(ctx.pathParam("id")));
        String name = RequestBody.of(ctx, Set.of("name")).name("name");
        if (name.startsWith(BackupPlan.SNAPSHOT_PREFIX)) {
            throw ApiError.badField("name", "RESERVED_NAME", "snapshot names starting with '" + BackupPlan.SNAPSHOT_PREFIX
                    + "' belong to the volume's backup policy");
        }
        RestApi.accepted(ctx, snapshot(volume, name, api.origin(ctx)));
    }

    /** Takes a snapshot of a READY volume, live through its host's QEMU if it is prepared. */
    Future<JsonObject> snapshot(VolumeState volume, String name, RestApi.Origin origin) {
        ready(volume);
        DomainState domain = api.usable(api.domainOrThrow(volume.getDomainId()), null);
        requireSnapshots(domain, volume);
        if (volume.getSnapshots().stream().anyMatch(s -> s.getName().equals(name))) {
            throw ApiError.conflict("SNAPSHOT_EXISTS", "volume '" + volume.getName() + "' has a snapshot named '" + name + "' already", "name");
        }
        requireIdle(volume);
        String taskId = UUID.randomUUID().toString();
        String snapshotId = UUID.randomUUID().toString();
        String hostId = preparedOn(volume);
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        SnapshotVolume command = SnapshotVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(RestApi.domainRef(domain)).setVolume(volume).setSnapshotId(snapshotId).setName(name).setHostId(hostId).build();
        return api.submitTask(TaskType.SNAPSHOT_VOLUME, volume.getDomainId(), volume.getId(), command,
                new JsonObject().put("snapshotId", snapshotId).put("live", hostId != null), List.of(), List.of());
    }

    private void deleteSnapshot(RoutingContext ctx) {
        RestApi.accepted(ctx, deleteSnapshot(ready(api.volumeOrThrow(ctx.pathParam("id"))), ctx.pathParam("snapshotId"), api.origin(ctx)));
    }

    /** Deletes a snapshot by merging its layer into the layer above: live through the host's QEMU if the volume is prepared. */
    Future<JsonObject> deleteSnapshot(VolumeState volume, String snapshotId, RestApi.Origin origin) {
        SnapshotRef snapshot = volume.getSnapshots().stream().filter(s -> s.getSnapshotId().equals(snapshotId)).findFirst()
                .orElseThrow(() -> ApiError.notFound("SNAPSHOT_NOT_FOUND", "volume '" + volume.getName() + "' has no snapshot '" + snapshotId + "'"));
        if (!"MERGING".equals(snapshot.getStatus())) {
            requireIdle(volume);
        }
        if (isTemplate(volume)) {
            throw ApiError.conflict("VOLUME_HAS_CLONES", "volume '" + volume.getName() + "' is the template of clones; its snapshots stay", null);
        }
        DomainState domain = api.usable(api.domainOrThrow(volume.getDomainId()), null);
        String taskId = UUID.randomUUID().toString();
        String hostId = preparedOn(volume);
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        DeleteSnapshot command = DeleteSnapshot.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(RestApi.domainRef(domain)).setVolume(volume).setSnapshotId(snapshotId).setHostId(hostId).build();
        return api.submitTask(TaskType.DELETE_SNAPSHOT, volume.getDomainId(), volume.getId(), command,
                new JsonObject().put("snapshotId", snapshotId).put("live", hostId != null), List.of(), List.of());
    }

    /** A volume that backs copy-on-write clones: its layers must not change. */
    boolean isTemplate(VolumeState volume) {
        return view.volumes().stream().anyMatch(v -> volume.getId().equals(v.getParentVolumeId()));
    }

    /**
     * A copy-on-write clone in the same domain. The source becomes a template: it backs the clone
     * for as long as the clone exists, so it may no longer be prepared, deleted or merged.
     */
    private void cloneVolume(RoutingContext ctx) {
        VolumeState source = ready(api.volumeOrThrow(ctx.pathParam("id")));
        RequestBody body = RequestBody.of(ctx, Set.of("name"));
        String name = body.name("name");
        DomainState domain = api.usable(api.domainOrThrow(source.getDomainId()), null);
        if (!capable(domain, Capability.CLONE_COW)) {
            throw ApiError.conflict("CLONES_UNSUPPORTED", "domain '" + domain.getName() + "' (" + domain.getDriver()
                    + ") makes no copy-on-write clones; copy the volume instead (POST /api/v1/volumes/" + source.getId() + "/copy)", null);
        }
        String host = preparedOn(source);
        if (host != null) {
            throw ApiError.conflict("VOLUME_IN_USE", "volume '" + source.getName() + "' is prepared on host " + host
                    + "; a template must not change, tear it down first", null);
        }
        api.requireFreeVolumeName(domain, name);
        String taskId = UUID.randomUUID().toString();
        String volumeId = UUID.randomUUID().toString();
        Envelope envelope = api.origin(ctx, domain.getEnvelope().getPool(), taskId);
        CloneVolume command = CloneVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setSourceVolumeId(source.getId())
                .setDomain(RestApi.domainRef(domain)).setTargetVolumeId(volumeId).setName(name).setVirtualSize(source.getVirtualSize()).build();
        VolumeState creating = RestApi.creating(envelope, volumeId, domain.getId(), name, source.getVirtualSize(), VolumeFormat.QCOW2,
                io.storagebus.schema.Allocation.THIN);
        creating.setParentVolumeId(source.getId());
        api.submitNewVolume(ctx, TaskType.CLONE_VOLUME, creating, command);
    }

    /** Destroys the volume and all its layers; {@code ?wipe=true} overwrites it with zeros first. */
    private void deleteVolume(RoutingContext ctx) {
        VolumeState volume = api.volumeOrThrow(ctx.pathParam("id"));
        boolean wipe = "true".equals(ctx.request().getParam("wipe"));
        if (volume.getStatus() == VolumeStatus.CREATING || volume.getStatus() == VolumeStatus.DELETING) {
            throw ApiError.conflict("VOLUME_BUSY", "volume '" + volume.getName() + "' is " + volume.getStatus(), null);
        }
        String host = preparedOn(volume);
        if (host != null) {
            throw ApiError.conflict("VOLUME_IN_USE", "volume '" + volume.getName() + "' is prepared on host " + host + "; tear it down first", null);
        }
        List<String> clones = view.volumes().stream().filter(v -> volume.getId().equals(v.getParentVolumeId())).map(VolumeState::getName).toList();
        if (!clones.isEmpty()) {
            throw ApiError.conflict("VOLUME_HAS_CLONES", "volume '" + volume.getName() + "' is the template of " + clones + "; delete them first", null);
        }
        DomainState domain = api.usable(api.domainOrThrow(volume.getDomainId()), null);
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = api.origin(ctx, domain.getEnvelope().getPool(), taskId);
        DeleteVolume command = DeleteVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(RestApi.domainRef(domain)).setVolume(volume).setWipe(wipe).build();
        VolumeState deleting = VolumeState.newBuilder(volume).setEnvelope(envelope).setTaskId(taskId).setStatus(VolumeStatus.DELETING).build();
        RestApi.accepted(ctx, api.submitTask(TaskType.DELETE_VOLUME, volume.getDomainId(), volume.getId(), command, new JsonObject().put("wipe", wipe),
                List.of(), List.of(new Outgoing(Topics.VOLUME_STATE, volume.getId(), deleting))));
    }

    private VolumeState ready(VolumeState volume) {
        if (volume.getStatus() != VolumeStatus.READY) {
            throw ApiError.conflict("VOLUME_NOT_READY", "volume '" + volume.getName() + "' is " + volume.getStatus() + ", not READY", null);
        }
        return volume;
    }

    void requireSnapshots(DomainState domain, VolumeState volume) {
        if (!capable(domain, Capability.SNAPSHOT)) {
            throw ApiError.conflict("SNAPSHOTS_UNSUPPORTED", "domain '" + domain.getName() + "' (" + domain.getDriver()
                    + ") keeps no snapshots", null);
        }
        if (volume.getFormat() != VolumeFormat.QCOW2) {
            throw ApiError.conflict("SNAPSHOTS_UNSUPPORTED", "volume '" + volume.getName() + "' is " + volume.getFormat()
                    + "; snapshots are qcow2 layers, so only qcow2 volumes have them", null);
        }
    }

    /** One change of a chain at a time: the SPM refuses a second, so the manager says so first. */
    private static void requireIdle(VolumeState volume) {
        volume.getSnapshots().stream().filter(s -> !"READY".equals(s.getStatus())).findFirst().ifPresent(s -> {
            throw ApiError.conflict("SNAPSHOT_BUSY", "snapshot '" + s.getName() + "' of volume '" + volume.getName() + "' is "
                    + s.getStatus() + "; one snapshot operation at a time", null);
        });
    }

    private boolean capable(DomainState domain, Capability capability) {
        return drivers.find(domain.getDriver()).map(d -> d.capabilities().contains(capability)).orElse(false);
    }

    /** The host the volume is prepared on, whose guest a snapshot or merge must change too, or null. */
    private String preparedOn(VolumeState volume) {
        return leases.leaseOf(volume.getId()).map(VolumeLease::hostId).orElse(null);
    }
}
