package io.storagebus.manager.requests;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

import io.storagebus.bus.TaskType;
import io.storagebus.driver.Capability;
import io.storagebus.bus.Topics;
import io.storagebus.leases.HostDirectory;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.Invalid;
import io.storagebus.manager.requests.RequestException.NotFound;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CancelTask;
import io.storagebus.schema.CopyVolume;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.MoveVolume;
import io.storagebus.schema.PrepareVolume;
import io.storagebus.schema.ResizeVolume;
import io.storagebus.schema.UntrashVolume;
import io.storagebus.schema.TeardownVolume;
import io.storagebus.schema.UnmonitorVolume;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.TransferImage;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.vertx.core.Future;

/** Volumes: create, copy, move, delete (on the SPM), prepare and tear down (on a host), and the monitoring of a guest's use. */
public record VolumeRequests(Resources resources, TaskSubmitter submitter, HostDirectory hosts, ActiveRole role) {
    /** Largest volume accepted: 64 TiB, well inside what qcow2 and LVM address. */
    public static final long MAX_VIRTUAL_SIZE = 64L << 40;
    static final long SECTOR = 512;
    /** QEMU ids and node names: a letter, then letters, digits, '-', '.', '_'; at most 31 characters. */
    private static final Pattern QEMU_NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,30}");

    /** A new empty volume; {@code initialSize} (thin only) is what a block domain allocates at first. */
    public record Create(String domainId, String name, long virtualSize, VolumeFormat format, Allocation allocation, Long initialSize) {
    }

    /** What a client may name a request by, so that sending it again makes nothing twice. */
    public static final Pattern IDEMPOTENCY_KEY = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

    /** A guest's QEMU uses the volume: where its QMP socket is and which block node is on the volume. */
    public record Monitor(String volumeId, String qmpSocket, String nodeName, String drive) {
    }

    /** What a host was told about a guest's use of a volume. */
    public record Monitoring(String volumeId, String hostId, boolean monitored, String qmpSocket, String nodeName, String drive) {
    }

    /**
     * A create the client named with {@code idempotencyKey} (null: none): the same key in the same
     * domain gives the same task and volume ids, so a request sent again after a lost answer, to
     * this manager or another, is answered with the volume the first one made instead of a second.
     */
    public Future<Submitted> create(Create request, String idempotencyKey, Origin origin) {
        return create(request, null, idempotencyKey, origin);
    }

    /**
     * As above; with {@code upload}, the volume is made for an image to be uploaded into it: its
     * transfer is published with its create, and the SPM serves it once the volume is made.
     */
    public Future<Submitted> create(Create request, TransferRequests.Transfer upload, String idempotencyKey, Origin origin) {
        DomainState domain = resources.usable(resources.domain(request.domainId()), null);
        long virtualSize = checkedVirtualSize(request.virtualSize());
        Long initialSize = request.initialSize();
        if (initialSize != null && (initialSize <= 0 || initialSize > virtualSize)) {
            throw new Invalid("initialSize", "OUT_OF_RANGE", "initialSize must be within 1.." + virtualSize + " (the virtual size), got " + initialSize);
        }
        if (initialSize != null && request.allocation() != Allocation.THIN) {
            throw new Invalid("initialSize", "NOT_THIN", "initialSize applies to thin volumes only; a preallocated volume gets all of its size");
        }
        String taskId = UUID.randomUUID().toString();
        String volumeId = UUID.randomUUID().toString();
        String transferId = UUID.randomUUID().toString();
        if (idempotencyKey != null) {
            taskId = nameUuid("create-volume-task", domain.getId(), idempotencyKey);
            volumeId = nameUuid("create-volume", domain.getId(), idempotencyKey);
            transferId = nameUuid("upload-task", domain.getId(), idempotencyKey);
            Optional<Submitted> earlier = earlierCreate(domain, taskId, volumeId, request.name(), idempotencyKey);
            if (earlier.isPresent()) {
                return Future.succeededFuture(upload == null ? earlier.get() : TransferRequests.details(earlier.get(), upload)
                        .with("transferId", transferId));
            }
        }
        resources.requireFreeVolumeName(domain, request.name());
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        CreateVolume command = CreateVolume.newBuilder()
                .setEnvelope(envelope).setTaskId(taskId).setVolumeId(volumeId).setDomain(Resources.domainRef(domain))
                .setName(request.name()).setVirtualSize(virtualSize).setFormat(request.format()).setAllocation(request.allocation())
                .setInitialSize(initialSize)
                .build();
        VolumeState creating = Resources.creating(envelope, volumeId, domain.getId(), request.name(), virtualSize, request.format(),
                request.allocation());
        if (upload == null) {
            return submitter.newVolume(TaskType.CREATE_VOLUME, creating, command);
        }
        // Keyed by the volume like its create, so the SPM reads the transfer after the volume is made.
        TransferImage transfer = TransferRequests.command(Envelope.newBuilder(envelope).setId(UUID.randomUUID().toString())
                .setCorrelationId(transferId).build(), creating, domain, upload);
        TaskState createTask = TaskSubmitter.pending(TaskType.CREATE_VOLUME, envelope, domain.getId(), volumeId);
        TaskState transferTask = TransferRequests.pending(transfer);
        String pool = domain.getEnvelope().getPool();
        String createId = taskId;
        return submitter.publishNew(
                List.of(new Outgoing(Topics.VOLUME_STATE, volumeId, creating), new Outgoing(Topics.TASK_STATE, createId, createTask),
                        new Outgoing(Topics.TASK_STATE, transferId, transferTask)),
                List.of(new Outgoing(Topics.spmCommands(pool), volumeId, command), new Outgoing(Topics.spmCommands(pool), volumeId, transfer)))
                .map(v -> TransferRequests.details(new Submitted(createId, creating.getId()), upload).with("transferId", transferTask.getId()));
    }

    /** The create an earlier request with the same key made, if one did; a key reused for another volume is a conflict. */
    private Optional<Submitted> earlierCreate(DomainState domain, String taskId, String volumeId, String name, String key) {
        // The view reads the task and volume topics apart: either one seen means the first create was committed.
        if (resources.view().task(taskId).isEmpty() && resources.view().volume(volumeId).isEmpty()) {
            return Optional.empty();
        }
        Optional<String> earlierName = resources.view().volume(volumeId).map(VolumeState::getName);
        if (earlierName.isPresent() && !earlierName.get().equals(name)) {
            throw new Conflict("IDEMPOTENCY_KEY_REUSED", "Idempotency-Key '" + key + "' made volume '" + earlierName.get()
                    + "' in domain '" + domain.getName() + "' already; a new volume needs a new key", "Idempotency-Key");
        }
        return Optional.of(new Submitted(taskId, volumeId).with("replayed", true));
    }

    private static String nameUuid(String kind, String domainId, String key) {
        return UUID.nameUUIDFromBytes((kind + "/" + domainId + "/" + key).getBytes(java.nio.charset.StandardCharsets.UTF_8)).toString();
    }

    /** Copies a READY volume into a new volume of a domain of the same pool (a backup, when the target is an object store). */
    public Future<Submitted> copy(String sourceId, String targetDomainId, String name, Origin origin) {
        VolumeState source = resources.volume(sourceId);
        if (source.getStatus() != VolumeStatus.READY) {
            throw new Conflict("VOLUME_NOT_READY", "volume '" + source.getName() + "' is " + source.getStatus() + ", not READY", null);
        }
        DomainState sourceDomain = resources.usable(resources.domain(source.getDomainId()), null);
        DomainState target = resources.usable(resources.domain(targetDomainId, "targetDomainId"), "targetDomainId");
        String pool = sourceDomain.getEnvelope().getPool();
        if (!target.getEnvelope().getPool().equals(pool)) {
            throw new Invalid("targetDomainId", "CROSS_POOL", "the target domain is in pool '" + target.getEnvelope().getPool()
                    + "', the volume in pool '" + pool + "': a copy stays within one pool, whose SPM carries it out");
        }
        resources.requireFreeVolumeName(target, name);
        String taskId = UUID.randomUUID().toString();
        String volumeId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(pool, taskId);
        CopyVolume command = CopyVolume.newBuilder()
                .setEnvelope(envelope).setTaskId(taskId).setSourceVolumeId(sourceId).setSource(Resources.domainRef(sourceDomain))
                .setTargetVolumeId(volumeId).setTarget(Resources.domainRef(target)).setTargetName(name)
                .setVirtualSize(source.getVirtualSize()).setFormat(source.getFormat()).setAllocation(source.getAllocation())
                .build();
        return submitter.newVolume(TaskType.COPY_VOLUME, Resources.creating(envelope, volumeId, target.getId(), name, source.getVirtualSize(),
                source.getFormat(), source.getAllocation()), command);
    }

    /**
     * Moves a volume no host has prepared to another domain of its pool, keeping its id: the SPM
     * copies it there verified, delinks the source and switches the volume over in one
     * transaction. The volume is {@code MOVING} meanwhile, so nothing else starts on it here; the
     * SPM holds the volume's lease while it moves, so a prepare that comes anyway is refused.
     */
    public Future<Submitted> move(String volumeId, String targetDomainId, long mirrorBandwidth, Origin origin) {
        VolumeState volume = resources.ready(resources.volume(volumeId));
        DomainState source = resources.usable(resources.domain(volume.getDomainId()), null);
        DomainState target = resources.usable(resources.domain(targetDomainId, "targetDomainId"), "targetDomainId");
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(source.getEnvelope().getPool(), taskId);
        Move move = moveOf(volume, source, target, envelope, mirrorBandwidth);
        String host = move.command().getHostId();
        return submitter.spmTask(TaskType.MOVE_VOLUME, source.getId(), volume.getId(), move.command(), List.of(), List.of(move.moving()))
                .map(s -> s.with("targetDomainId", target.getId()).with("live", host != null))
                .map(s -> host == null ? s : s.with("hostId", host));
    }

    /**
     * The records that start a drain's move of {@code volume} to {@code target} (the command, its
     * PENDING task, the volume MOVING), for the maintenance coordinator to publish with its own
     * transition; the volume's domain is being taken into maintenance, which refuses moves from
     * anyone else. The task's id is the envelope's correlation id. Refused as a move request is.
     */
    public List<Outgoing> drainMove(VolumeState volume, DomainState target, Envelope envelope) {
        resources.ready(volume);
        DomainState source = resources.domain(volume.getDomainId());
        Move move = moveOf(volume, source, target, envelope, 0);
        return List.of(new Outgoing(Topics.spmCommands(envelope.getPool()), volume.getId(), move.command()),
                TaskSubmitter.pendingTask(TaskType.MOVE_VOLUME, envelope, source.getId(), volume.getId()), move.moving());
    }

    private record Move(MoveVolume command, Outgoing moving) {
    }

    /** The command and the MOVING state of a move the volume allows; refused with the reason otherwise. */
    private Move moveOf(VolumeState volume, DomainState source, DomainState target, Envelope envelope, long mirrorBandwidth) {
        if (target.getId().equals(source.getId())) {
            throw new Invalid("targetDomainId", "SAME_DOMAIN", "volume '" + volume.getName() + "' is in domain '" + source.getName()
                    + "' already");
        }
        Resources.requireSamePool(target, "target domain", source, "volume");
        if (resources.capable(target, Capability.BACKUP_TARGET)) {
            throw new Invalid("targetDomainId", "NOT_FOR_GUESTS", "domain '" + target.getName() + "' (" + target.getDriver()
                    + ") holds backups, which no guest can use; a moved volume must stay usable (POST /api/v1/volumes/{id}/backups copies one there)");
        }
        if (!volume.getSnapshots().isEmpty()) {
            if (!resources.capable(target, Capability.SNAPSHOT)) {
                throw new Invalid("targetDomainId", "NO_SNAPSHOTS_THERE", "volume '" + volume.getName() + "' has "
                        + volume.getSnapshots().size() + " snapshot(s), and domain '" + target.getName() + "' (" + target.getDriver()
                        + ") keeps no snapshots; delete them first, or move it to a domain whose driver has SNAPSHOT");
            }
            volume.getSnapshots().stream().filter(s -> !"READY".equals(s.getStatus())).findFirst().ifPresent(s -> {
                throw new Conflict("VOLUME_BUSY", "snapshot '" + s.getName() + "' of volume '" + volume.getName() + "' is " + s.getStatus()
                        + "; move the volume once it is made or merged", null);
            });
        }
        resources.requireNoRunningTask(volume, "move it once that is done");
        if (volume.getParentVolumeId() != null) {
            throw new Conflict("VOLUME_IS_CLONE", "volume '" + volume.getName() + "' is a copy-on-write clone of volume "
                    + volume.getParentVolumeId() + " and shares its layers in domain '" + source.getName()
                    + "'; copy it to the other domain instead (a full, independent volume)", null);
        }
        List<String> clones = resources.view().clonesOf(volume.getId()).stream().map(VolumeState::getName).sorted().toList();
        if (!clones.isEmpty()) {
            throw new Conflict("VOLUME_HAS_CLONES", "volume '" + volume.getName() + "' is the template of " + clones
                    + ", which share its layers in domain '" + source.getName() + "'", null);
        }
        if (resources.view().volumeNamed(target.getId(), volume.getName()).isPresent()) {
            throw new Conflict("VOLUME_EXISTS", "domain '" + target.getName() + "' has a volume named '" + volume.getName() + "' already",
                    "targetDomainId");
        }
        String taskId = envelope.getCorrelationId();
        MoveVolume command = MoveVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setSource(Resources.domainRef(source)).setTarget(Resources.domainRef(target)).setVolume(volume)
                // Prepared on a host: its guest's QEMU mirrors the active layer, a live move.
                .setHostId(resources.preparedOnHost(volume).orElse(null)).setMirrorBandwidth(mirrorBandwidth).build();
        VolumeState moving = VolumeState.newBuilder(volume).setEnvelope(envelope).setTaskId(taskId).setStatus(VolumeStatus.MOVING)
                .setErrorCode(null).setErrorMessage(null).build();
        return new Move(command, new Outgoing(Topics.VOLUME_STATE, volume.getId(), moving));
    }

    /**
     * Cancels a move or a copy that has not finished: the SPM stops its job at the next progress
     * point (every 64 MiB), removes what it copied and ends the task FAILED with code CANCELLED;
     * a moved volume stays where it was. A job that finishes first is not undone.
     */
    public Future<Submitted> cancelTask(String taskId, Origin origin) {
        TaskState task = resources.view().task(taskId).orElseThrow(() -> new NotFound("TASK_NOT_FOUND", "no task with id '" + taskId + "'"));
        TaskType type = TaskType.of(task.getType()).orElse(null);
        if (type != TaskType.MOVE_VOLUME && type != TaskType.COPY_VOLUME && type != TaskType.TRANSFER_IMAGE) {
            throw new Conflict("NOT_CANCELLABLE", "a " + task.getType() + " task cannot be cancelled; moves, copies and image transfers can", null);
        }
        if (task.getStatus() != TaskStatus.PENDING && task.getStatus() != TaskStatus.RUNNING) {
            throw new Conflict("TASK_FINISHED", "task " + taskId + " is " + task.getStatus() + " already", null);
        }
        String pool = resources.domain(task.getDomainId()).getEnvelope().getPool();
        Envelope envelope = origin.envelope(pool, taskId);
        CancelTask command = CancelTask.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(task.getVolumeId()).build();
        // Keyed as the command it cancels, so the SPM reads it after that one; a live move's host stops its mirror.
        List<Outgoing> cancels = new ArrayList<>(List.of(new Outgoing(Topics.spmCommands(pool), task.getVolumeId(), command)));
        if (type == TaskType.MOVE_VOLUME) {
            resources.view().volume(task.getVolumeId()).flatMap(resources::preparedOnHost)
                    .ifPresent(host -> cancels.add(new Outgoing(Topics.hostCommands(host), task.getVolumeId(),
                            CancelTask.newBuilder(command).setHostId(host).build())));
        }
        return role.bus().publish(cancels).map(v -> new Submitted(taskId, task.getVolumeId()));
    }

    /** A virtual size a volume may have: positive, at most 64 TiB, whole sectors. */
    private static long checkedVirtualSize(long virtualSize) {
        if (virtualSize <= 0) {
            throw new Invalid("virtualSize", "OUT_OF_RANGE", "virtualSize must be positive, got " + virtualSize);
        }
        if (virtualSize > MAX_VIRTUAL_SIZE) {
            throw new Invalid("virtualSize", "OUT_OF_RANGE", "virtualSize must be at most " + MAX_VIRTUAL_SIZE + " (64 TiB)");
        }
        if (virtualSize % SECTOR != 0) {
            throw new Invalid("virtualSize", "NOT_ALIGNED", "virtualSize must be a multiple of 512 bytes, got " + virtualSize);
        }
        return virtualSize;
    }

    /**
     * Grows a volume: its data and snapshots stay, the new space reads as zeros. Prepared on no
     * host, offline (the SPM checks that again under the volume's lease); prepared on a host,
     * live: the SPM makes room, the host's guest grows its disk through QMP and sees the new size
     * at once. A volume only grows; the size it has already is accepted as no change, so a
     * request sent again does no harm.
     */
    public Future<Submitted> resize(String volumeId, long virtualSize, Origin origin) {
        VolumeState volume = resources.ready(resources.volume(volumeId));
        checkedVirtualSize(virtualSize);
        if (virtualSize < volume.getVirtualSize()) {
            throw new Invalid("virtualSize", "SHRINK_REFUSED", "volume '" + volume.getName() + "' is " + volume.getVirtualSize()
                    + " bytes; a volume only grows (shrinking would cut off what its guest wrote at the end)");
        }
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        if (!resources.capable(domain, Capability.RESIZE)) {
            throw new Conflict("RESIZE_UNSUPPORTED", "domain '" + domain.getName() + "' (" + domain.getDriver() + ") cannot grow volumes", null);
        }
        // Prepared on a host: grown live there, by its guest's QEMU, once the SPM has made room.
        String host = resources.preparedOn(volume).orElse(null);
        resources.requireNoRunningTask(volume, "resize it once that is done");
        List<String> clones = resources.view().clonesOf(volume.getId()).stream().map(VolumeState::getName).sorted().toList();
        if (!clones.isEmpty()) {
            throw new Conflict("VOLUME_HAS_CLONES", "volume '" + volume.getName() + "' is the template of " + clones
                    + "; a template does not change", null);
        }
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        ResizeVolume command = ResizeVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(Resources.domainRef(domain)).setVolume(volume).setVirtualSize(virtualSize).setHostId(host).build();
        return submitter.spmTask(TaskType.RESIZE_VOLUME, volume.getDomainId(), volume.getId(), command, List.of(), List.of())
                .map(s -> s.with("virtualSize", virtualSize));
    }

    /**
     * Deletes the volume into the trash: its data stays, it leaves the listings and its name is
     * free, until it is brought back ({@link #untrash}) or purged. With {@code purge} (or
     * {@code wipe}, which overwrites it with zeros first) it is destroyed at once, all its layers.
     */
    public Future<Submitted> delete(String volumeId, boolean wipe, boolean purge, Origin origin) {
        VolumeState volume = resources.volume(volumeId);
        if (volume.getStatus() == VolumeStatus.TRASHED) {
            if (!purge && !wipe) {
                throw new Conflict("VOLUME_TRASHED", "volume '" + volume.getName() + "' is in the trash already; DELETE /api/v1/trash/"
                        + volume.getId() + " purges it", null);
            }
            return purge(volumeId, wipe, origin);
        }
        if (volume.getStatus() == VolumeStatus.CREATING || volume.getStatus() == VolumeStatus.DELETING
                || volume.getStatus() == VolumeStatus.MOVING) {
            throw new Conflict("VOLUME_BUSY", "volume '" + volume.getName() + "' is " + volume.getStatus(), null);
        }
        resources.requireNoRunningTask(volume, "delete it once that is done (or cancel the task)");
        resources.preparedOn(volume).ifPresent(host -> {
            throw new Conflict("VOLUME_IN_USE", "volume '" + volume.getName() + "' is prepared on host " + host + "; tear it down first", null);
        });
        List<String> clones = resources.view().clonesOf(volume.getId()).stream().map(VolumeState::getName).sorted().toList();
        if (!clones.isEmpty()) {
            throw new Conflict("VOLUME_HAS_CLONES", "volume '" + volume.getName() + "' is the template of " + clones + "; delete them first", null);
        }
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        // A volume that failed to be made has nothing worth keeping.
        boolean trash = !purge && !wipe && volume.getStatus() != VolumeStatus.FAILED;
        DeleteVolume command = DeleteVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(Resources.domainRef(domain)).setVolume(volume).setWipe(wipe).setTrash(trash).build();
        VolumeState deleting = VolumeState.newBuilder(volume).setEnvelope(envelope).setTaskId(taskId).setStatus(VolumeStatus.DELETING).build();
        return submitter.spmTask(TaskType.DELETE_VOLUME, volume.getDomainId(), volume.getId(), command, List.of(),
                List.of(new Outgoing(Topics.VOLUME_STATE, volume.getId(), deleting))).map(s -> s.with("wipe", wipe).with("trash", trash));
    }

    /** Destroys a volume in the trash for good; {@code wipe} overwrites it with zeros first. */
    public Future<Submitted> purge(String volumeId, boolean wipe, Origin origin) {
        VolumeState volume = trashed(volumeId);
        resources.requireNoRunningTask(volume, "purge it once that is done");
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        DeleteVolume command = DeleteVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(Resources.domainRef(domain)).setVolume(volume).setWipe(wipe).build();
        return submitter.spmTask(TaskType.DELETE_VOLUME, volume.getDomainId(), volume.getId(), command, List.of(), List.of())
                .map(s -> s.with("wipe", wipe).with("trash", false));
    }

    /**
     * Brings a volume back from the trash under its id, READY with its data and snapshots, if its
     * name is still free in its domain. The volume holds its name again at once (it is CREATING
     * until the SPM has it back), so a create of the same name meanwhile is refused.
     */
    public Future<Submitted> untrash(String volumeId, Origin origin) {
        VolumeState volume = trashed(volumeId);
        resources.requireNoRunningTask(volume, "ask again once that is done");
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        resources.view().volumeNamed(domain.getId(), volume.getName()).ifPresent(other -> {
            throw new Conflict("VOLUME_EXISTS", "domain '" + domain.getName() + "' has a volume named '" + volume.getName()
                    + "' now (" + other.getId() + "); rename or delete that one to bring this one back", "name");
        });
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        UntrashVolume command = UntrashVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                .setDomain(Resources.domainRef(domain)).setVolume(volume).build();
        VolumeState comingBack = VolumeState.newBuilder(volume).setEnvelope(envelope).setTaskId(taskId).setStatus(VolumeStatus.CREATING)
                .build();
        return submitter.spmTask(TaskType.UNTRASH_VOLUME, volume.getDomainId(), volume.getId(), command, List.of(),
                List.of(new Outgoing(Topics.VOLUME_STATE, volume.getId(), comingBack)));
    }

    /** The volume, if it is in the trash; {@code NOT_IN_TRASH} otherwise. */
    private VolumeState trashed(String volumeId) {
        VolumeState volume = resources.volume(volumeId);
        if (volume.getStatus() != VolumeStatus.TRASHED) {
            throw new NotFound("NOT_IN_TRASH", "volume '" + volume.getName() + "' is " + volume.getStatus()
                    + ", not in the trash");
        }
        return volume;
    }

    /** Takes the volume's lease on a host and activates it there, for a guest to use. */
    public Future<Submitted> prepare(String volumeId, String hostId, Origin origin) {
        VolumeState volume = resources.volume(volumeId);
        if (volume.getStatus() != VolumeStatus.READY) {
            throw new Conflict("VOLUME_NOT_READY", "volume '" + volume.getName() + "' is " + volume.getStatus() + ", not READY", null);
        }
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(hostOfPool(hostId, domain), taskId);
        return submitter.hostTask(TaskType.PREPARE_VOLUME, domain.getId(), volume.getId(), hostId, PrepareVolume.newBuilder()
                .setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId()).setDomain(Resources.domainRef(domain)).setHostId(hostId)
                .build());
    }

    /** Deactivates the volume on a host (by default the one holding its lease) and lets the lease go. */
    public Future<Submitted> teardown(String volumeId, String hostId, Origin origin) {
        VolumeState volume = resources.volume(volumeId);
        String host = hostId != null ? hostId : resources.preparedOn(volume)
                .orElseThrow(() -> new Conflict("NOT_PREPARED", "volume '" + volume.getName() + "' is not prepared on any host", null));
        DomainState domain = resources.domain(volume.getDomainId());
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(hostOfPool(host, domain), taskId);
        return submitter.hostTask(TaskType.TEARDOWN_VOLUME, domain.getId(), volume.getId(), host, TeardownVolume.newBuilder()
                .setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId()).setDomain(Resources.domainRef(domain)).setHostId(host)
                .build());
    }

    /** The pool of a connected host that serves the domain's pool. */
    private String hostOfPool(String hostId, DomainState domain) {
        String pool = domain.getEnvelope().getPool();
        HostDirectory.Host host = hosts.all().stream().filter(h -> h.hostId().equals(hostId)).findFirst()
                .orElseThrow(() -> new Invalid("hostId", "UNKNOWN_HOST", "no host '" + hostId + "' is connected"));
        if (!host.pool().equals(pool)) {
            throw new Invalid("hostId", "CROSS_POOL", "host '" + hostId + "' serves pool '" + host.pool() + "', the volume is in pool '" + pool + "'");
        }
        return pool;
    }

    /**
     * Tells the host that holds the volume's lease that a QEMU uses it, so the host keeps it
     * extended. The host answers with CommandFailed on the event stream if it cannot reach QEMU
     * or find the node.
     */
    public Future<Monitoring> monitor(Monitor request, Origin origin) {
        VolumeState volume = resources.volume(request.volumeId());
        String hostId = holder(volume);
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        String socket = request.qmpSocket();
        if (!socket.startsWith("/") || socket.length() > 4096 || socket.contains("\0")) {
            throw new Invalid("qmpSocket", "INVALID_PATH", "qmpSocket must be the absolute path of QEMU's QMP unix socket on host '" + hostId + "'");
        }
        requireQemuName("nodeName", request.nodeName());
        requireQemuName("drive", request.drive());
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), UUID.randomUUID().toString());
        MonitorVolume command = MonitorVolume.newBuilder().setEnvelope(envelope).setVolumeId(volume.getId()).setDomain(Resources.domainRef(domain))
                .setHostId(hostId).setQmpSocket(socket).setNodeName(request.nodeName()).setDrive(request.drive()).build();
        return role.bus().publish(List.of(new Outgoing(Topics.hostCommands(hostId), volume.getId(), command)))
                .map(v -> new Monitoring(volume.getId(), hostId, true, socket, request.nodeName(), request.drive()));
    }

    /** The host stops watching the guest's use of the volume. */
    public Future<Monitoring> unmonitor(String volumeId, Origin origin) {
        VolumeState volume = resources.volume(volumeId);
        String hostId = holder(volume);
        DomainState domain = resources.domain(volume.getDomainId());
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), UUID.randomUUID().toString());
        UnmonitorVolume command = UnmonitorVolume.newBuilder().setEnvelope(envelope).setVolumeId(volume.getId()).setHostId(hostId).build();
        return role.bus().publish(List.of(new Outgoing(Topics.hostCommands(hostId), volume.getId(), command)))
                .map(v -> new Monitoring(volume.getId(), hostId, false, null, null, null));
    }

    private String holder(VolumeState volume) {
        return resources.preparedOn(volume).orElseThrow(() -> new Conflict("NOT_PREPARED",
                "volume '" + volume.getName() + "' is not prepared on any host; prepare it where the guest runs first", null));
    }

    private static void requireQemuName(String field, String value) {
        if (value != null && !QEMU_NAME.matcher(value).matches()) {
            throw new Invalid(field, "INVALID_NAME", field + " must be a QEMU node or device name: " + QEMU_NAME.pattern());
        }
    }
}
