package io.storagebus.manager.requests;

import java.util.List;
import java.util.UUID;

import io.storagebus.bus.TaskType;
import io.storagebus.driver.Capability;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.NotFound;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TransferDirection;
import io.storagebus.schema.TransferImage;
import io.storagebus.schema.TransferInfo;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.vertx.core.Future;

/**
 * Images in and out of volumes: a transfer is a task of the pool's SPM, which serves it over
 * HTTP from its host while it holds the volume's lease, so nothing else uses the volume until
 * the transfer is finished, cancelled or expired. Its URL, which carries the transfer's ticket,
 * is shown to operators only ({@link #transfer}), never in events or task lists.
 */
public record TransferRequests(Resources resources, TaskSubmitter submitter) {
    /** One image transfer as asked: which way, the image's format (null: the volume's), how long a silent client keeps it. */
    public record Transfer(TransferDirection direction, VolumeFormat format, int inactivityTimeoutSeconds) {
        /** imageio's clients send within seconds; five minutes covers a client that restarts. */
        public static final int DEFAULT_INACTIVITY_TIMEOUT = 300;
        public static final int MAX_INACTIVITY_TIMEOUT = 86_400;

        TransferInfo info() {
            return TransferInfo.newBuilder().setDirection(direction).setFormat(format).setInactivityTimeoutSeconds(inactivityTimeoutSeconds)
                    .build();
        }
    }

    /** Starts a transfer of a READY volume that no host has prepared and no task uses. */
    public Future<Submitted> start(String volumeId, Transfer transfer, Origin origin) {
        VolumeState volume = resources.ready(resources.volume(volumeId));
        DomainState domain = resources.usable(resources.domain(volume.getDomainId()), null);
        if (resources.capable(domain, Capability.BACKUP_TARGET)) {
            throw new Conflict("NOT_FOR_GUESTS", "domain '" + domain.getName() + "' (" + domain.getDriver()
                    + ") holds backups, not disks; restore a backup into a disk domain and transfer that", null);
        }
        resources.requireNoRunningTask(volume, "transfer it once that is done");
        resources.preparedOnHost(volume).ifPresent(host -> {
            throw new Conflict("VOLUME_IN_USE", "volume '" + volume.getName() + "' is prepared on host " + host
                    + "; tear it down first (a transfer needs the volume to itself)", null);
        });
        if (transfer.direction() == TransferDirection.UPLOAD) {
            requireReplaceable(volume);
        }
        if (transfer.format() == null) {
            transfer = new Transfer(transfer.direction(), volume.getFormat(), transfer.inactivityTimeoutSeconds());
        }
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), taskId);
        TransferImage command = command(envelope, volume, domain, transfer);
        Transfer asked = transfer;
        return submitter.spmTask(pending(command), command, List.of(), List.of()).map(s -> details(s, asked));
    }

    /** What a client gets back: the transfer is the task. */
    static Submitted details(Submitted submitted, Transfer transfer) {
        return submitted.with("transferId", submitted.taskId()).with("direction", transfer.direction().name())
                .with("format", transfer.format().name());
    }

    /** An upload replaces the volume's data: not under snapshots, a clone's parent, or clones sharing it. */
    private void requireReplaceable(VolumeState volume) {
        if (!volume.getSnapshots().isEmpty()) {
            throw new Conflict("VOLUME_HAS_SNAPSHOTS", "volume '" + volume.getName() + "' has " + volume.getSnapshots().size()
                    + " snapshot(s), which an uploaded image would leave meaningless; delete them, or upload into a new volume", null);
        }
        if (volume.getParentVolumeId() != null) {
            throw new Conflict("VOLUME_IS_CLONE", "volume '" + volume.getName() + "' is a copy-on-write clone of volume "
                    + volume.getParentVolumeId() + "; upload into a new volume", null);
        }
        if (!resources.view().clonesOf(volume.getId()).isEmpty()) {
            throw new Conflict("VOLUME_HAS_CLONES", "volume '" + volume.getName() + "' is the template of clones that share its data", null);
        }
    }

    /** The SPM command of a transfer of {@code volume} (CREATING when it is made for the upload, in the same transaction). */
    static TransferImage command(Envelope envelope, VolumeState volume, DomainState domain, Transfer transfer) {
        return TransferImage.newBuilder().setEnvelope(envelope).setTaskId(envelope.getCorrelationId()).setVolumeId(volume.getId())
                .setDomain(Resources.domainRef(domain)).setVolume(volume).setTransfer(transfer.info()).build();
    }

    /** The PENDING task of a transfer, with its transfer side. */
    static TaskState pending(TransferImage command) {
        return TaskState.newBuilder(TaskSubmitter.pending(TaskType.TRANSFER_IMAGE, command.getEnvelope(), command.getDomain().getId(),
                command.getVolumeId())).setTransfer(command.getTransfer()).build();
    }

    /** A transfer's task, with its URL: for operators, who may send or fetch the image. */
    public TaskState transfer(String transferId) {
        return resources.view().task(transferId).filter(t -> t.getTransfer() != null)
                .orElseThrow(() -> new NotFound("TRANSFER_NOT_FOUND", "no image transfer with id '" + transferId + "'"));
    }
}
