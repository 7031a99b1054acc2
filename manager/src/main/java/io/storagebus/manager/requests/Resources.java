package io.storagebus.manager.requests;

import java.util.Optional;

import io.storagebus.driver.Capability;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.leases.VolumeLease;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.Invalid;
import io.storagebus.manager.requests.RequestException.NotFound;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;

/**
 * What requests look up and check before they act: the domain, volume or backup they name, and
 * the conditions most of them share (a domain not in maintenance, a free volume name, one pool).
 * Each check reads the state view as it is now; the SPM checks again where it acts.
 */
public record Resources(StateView view, ActiveRole role, DriverRegistry drivers, LeaseDirectory leases) {
    public DomainState domain(String id) {
        return view.domain(id).orElseThrow(() -> new NotFound("DOMAIN_NOT_FOUND", "no domain with id '" + id + "'"));
    }

    /** A domain named by a request's {@code field}: unknown is the field's fault, not a missing resource. */
    public DomainState domain(String id, String field) {
        return view.domain(id).orElseThrow(() -> new Invalid(field, "UNKNOWN_DOMAIN", "no domain with id '" + id + "'"));
    }

    public VolumeState volume(String id) {
        return view.volume(id).orElseThrow(() -> new NotFound("VOLUME_NOT_FOUND", "no volume with id '" + id + "'"));
    }

    public BackupState backup(String id) {
        return view.backup(id).orElseThrow(() -> new NotFound("BACKUP_NOT_FOUND", "no backup with id '" + id + "'"));
    }

    /** A domain volumes may be used on: not in maintenance, nor being taken into it. */
    public DomainState usable(DomainState domain, String field) {
        role.maintenance().refusesVolumeOperations(domain.getId()).ifPresent(why -> {
            throw new Conflict("DOMAIN_IN_MAINTENANCE", "domain '" + domain.getName() + "' " + why
                    + "; volume operations resume once it is activated (POST /api/v1/domains/" + domain.getId() + "/activate)", field);
        });
        return domain;
    }

    public VolumeState ready(VolumeState volume) {
        if (volume.getStatus() != VolumeStatus.READY) {
            throw new Conflict("VOLUME_NOT_READY", "volume '" + volume.getName() + "' is " + volume.getStatus() + ", not READY", null);
        }
        return volume;
    }

    /** One task at a time on a volume: {@code VOLUME_BUSY} while another runs, saying when to ask again. */
    public void requireNoRunningTask(VolumeState volume, String then) {
        view.runningTasks().stream().filter(t -> volume.getId().equals(t.getVolumeId())).findFirst().ifPresent(t -> {
            throw new Conflict("VOLUME_BUSY", "volume '" + volume.getName() + "' has task " + t.getId() + " (" + t.getType() + ") "
                    + t.getStatus() + "; " + then, null);
        });
    }

    public void requireFreeVolumeName(DomainState domain, String name) {
        if (view.volumeNamed(domain.getId(), name).isPresent()) {
            throw new Conflict("VOLUME_EXISTS", "domain '" + domain.getName() + "' has a volume named '" + name + "' already", "name");
        }
    }

    /** A request's {@code targetDomainId} must be in the pool of what it works on: each pool's SPM carries out its own. */
    public static void requireSamePool(DomainState target, String targetIs, DomainState other, String otherIs) {
        if (!target.getEnvelope().getPool().equals(other.getEnvelope().getPool())) {
            throw new Invalid("targetDomainId", "CROSS_POOL", "the " + targetIs + " is in pool '" + target.getEnvelope().getPool()
                    + "', the " + otherIs + " in pool '" + other.getEnvelope().getPool() + "'");
        }
    }

    public boolean capable(DomainState domain, Capability capability) {
        return drivers.find(domain.getDriver()).map(d -> d.capabilities().contains(capability)).orElse(false);
    }

    /** The host the volume is prepared on (holds its lease), if any. */
    public Optional<String> preparedOn(VolumeState volume) {
        return leases.leaseOf(volume.getId()).map(VolumeLease::hostId);
    }

    /** The host a guest may use the volume on: its lease's holder, unless that is the SPM (which holds it to delete or move it offline). */
    public Optional<String> preparedOnHost(VolumeState volume) {
        return preparedOn(volume).filter(holder -> io.storagebus.bus.Topics.HOST_ID.matcher(holder).matches());
    }

    public static DomainRef domainRef(DomainState domain) {
        return DomainRef.newBuilder().setId(domain.getId()).setDriver(domain.getDriver()).setProperties(domain.getProperties()).build();
    }

    /** The state of a volume a request is about to make. */
    public static VolumeState creating(Envelope envelope, String volumeId, String domainId, String name, long virtualSize,
                                       VolumeFormat format, Allocation allocation) {
        return VolumeState.newBuilder()
                .setEnvelope(envelope).setId(volumeId).setDomainId(domainId).setName(name).setVirtualSize(virtualSize)
                .setFormat(format).setAllocation(allocation).setStatus(VolumeStatus.CREATING).setTaskId(envelope.getCorrelationId())
                .setCreatedAt(envelope.getTimestamp())
                .build();
    }
}
