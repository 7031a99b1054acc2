package io.storagebus.manager.requests;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.PropertyValidator;
import io.storagebus.driver.StorageDriver;
import io.storagebus.leases.HostDirectory;
import io.storagebus.leases.SpmDirectory;
import io.storagebus.leases.SpmTerm;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.bus.PoolTopics;
import io.storagebus.manager.bus.StorageChecks;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.Invalid;
import io.storagebus.manager.requests.RequestException.Problem;
import io.storagebus.manager.requests.RequestException.Unavailable;
import io.storagebus.manager.state.Page;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.CheckDomainStorage;
import io.storagebus.schema.DomainDetached;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.DomainStatus;
import io.storagebus.schema.DomainStorageChecked;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.VolumeState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Storage domains: created once a host of the pool checked the storage (the manager usually
 * cannot see it: a directory mounted on the hosts, a SAN's VG), and the volumes found on a
 * domain's storage imported.
 */
public final class DomainRequests {
    private static final Logger LOG = LoggerFactory.getLogger(DomainRequests.class);

    /** A new domain; {@code hostId} (optional) is the host to check its storage, else the pool's SPM. */
    /** {@code trashRetentionSeconds}: how long the domain's trash keeps a deleted volume; null: the manager's setting. */
    public record Create(String name, String driver, String pool, Map<String, String> properties, boolean importVolumes, String hostId,
                         Long trashRetentionSeconds) {
    }

    /** The domain stored, the host that checked its storage, and how many volumes it found there. */
    public record Created(DomainState domain, String checkedBy, long importedVolumes, int importedBackups) {
    }

    /** What an import found: volumes new to the state, and ones it knew already. */
    public record Imported(String domainId, int importedVolumes, int knownVolumes, String checkedBy, int importedBackups) {
    }

    /** What a detach removed from the state. */
    public record Detached(String domainId, int removedVolumes, int removedBackups) {
    }

    private final Vertx vertx;
    private final Resources resources;
    private final StateView view;
    private final ActiveRole role;
    private final DriverRegistry drivers;
    private final HostDirectory hosts;
    private final SpmDirectory spms;
    private final StorageChecks storageChecks;
    private final PoolTopics poolTopics;
    private final DomainStorage domainStorage;
    private final TaskSubmitter submitter;
    private final java.time.Duration storageCheckTimeout;

    public DomainRequests(Vertx vertx, Resources resources, TaskSubmitter submitter, ActiveRole role, DriverRegistry drivers,
                          HostDirectory hosts, SpmDirectory spms, StorageChecks storageChecks, PoolTopics poolTopics,
                          DomainStorage domainStorage, java.time.Duration storageCheckTimeout) {
        this.vertx = vertx;
        this.resources = resources;
        this.view = resources.view();
        this.submitter = submitter;
        this.role = role;
        this.drivers = drivers;
        this.hosts = hosts;
        this.spms = spms;
        this.storageChecks = storageChecks;
        this.poolTopics = poolTopics;
        this.domainStorage = domainStorage;
        this.storageCheckTimeout = storageCheckTimeout;
    }

    /**
     * Checks the bag's shape here, then has a host of the pool check the storage itself, refuses
     * a second domain on storage another domain uses, and with {@code importVolumes} registers the
     * volumes the host found there (a domain attached from elsewhere). Stored only on the host's yes.
     */
    public Future<Created> create(Create request, Origin origin) {
        String name = request.name();
        String pool = request.pool();
        if (!Topics.POOL_NAME.matcher(pool).matches()) {
            throw new Invalid("pool", "INVALID_NAME", "pool must match " + Topics.POOL_NAME.pattern());
        }
        StorageDriver driver = drivers.find(request.driver()).orElseThrow(() -> new Invalid("driver", "UNKNOWN_DRIVER",
                "unknown driver '" + request.driver() + "'; available: " + drivers.all().stream().map(StorageDriver::name).toList()));
        requireFreeDomainName(name);
        PropertyValidator.Result shape = PropertyValidator.checkShape(driver, request.properties());
        if (!shape.valid()) {
            throw new Invalid("INVALID_PROPERTIES", shape.violations().stream()
                    .map(v -> new Problem("properties." + v.property(), v.code(), v.message())).toList());
        }
        String hostId = checkingHost(pool, request.hostId());
        String id = UUID.randomUUID().toString();
        DomainRef ref = DomainRef.newBuilder().setId(id).setDriver(driver.name()).setProperties(shape.properties()).build();
        // The storage stays claimed until the domain is in the view (reserved below) or refused.
        AtomicReference<String> claimed = new AtomicReference<>();
        return checkStorage(origin, pool, hostId, ref, request.importVolumes())
                .compose(answer -> vertx.executeBlocking(() -> {
                    domainStorage.claim(answer.getStorageId(), name);
                    claimed.set(answer.getStorageId());
                    return answer;
                }, false))
                .compose(answer -> poolTopics.ensure(pool).map(answer))
                .compose(answer -> {
                    // Checked again right before the reservation: both run on the event loop, so
                    // two requests for one name cannot both pass.
                    requireFreeDomainName(name);
                    Envelope envelope = origin.envelope(pool, id);
                    DomainState domain = DomainState.newBuilder()
                            .setEnvelope(envelope).setId(id).setName(name).setDriver(driver.name()).setProperties(shape.properties())
                            .setStatus(DomainStatus.ACTIVE).setCreatedAt(envelope.getTimestamp()).setStorageId(answer.getStorageId())
                            .setTrashRetentionSeconds(request.trashRetentionSeconds()).build();
                    List<Outgoing> records = new ArrayList<>();
                    records.add(new Outgoing(Topics.DOMAIN_STATE, id, domain));
                    // A volume the state knows (in another domain: a half-done move's leftover, say) is not overwritten.
                    answer.getVolumes().stream().filter(v -> view.volume(v.getId()).isEmpty())
                            .forEach(v -> records.add(new Outgoing(Topics.VOLUME_STATE, v.getId(), imported(envelope, v))));
                    List<Outgoing> backups = newBackups(answer, envelope);
                    records.addAll(backups);
                    return submitter.publishNew(records, List.of()).map(v -> {
                        LOG.info("domain {} '{}' created ({} driver, pool {}, storage checked by host {}, {} volumes and {} backups imported)",
                                id, name, driver.name(), pool, hostId, answer.getVolumes().size(), backups.size());
                        return new Created(domain, hostId, request.importVolumes()
                                ? view.volumeCount(id) : 0, backups.size());
                    });
                })
                .onComplete(ar -> {
                    if (claimed.get() != null) {
                        domainStorage.release(claimed.get());
                    }
                });
    }

    /**
     * Registers the volumes on a domain's storage that the state does not know: for a domain
     * attached without {@code importVolumes}, or after Kafka lost the state. Known volumes stay as
     * they are. The pool's SPM lists them, or {@code hostId}.
     */
    public Future<Imported> importVolumes(DomainState domain, String hostIdOrNull, Origin origin) {
        String pool = domain.getEnvelope().getPool();
        String hostId = checkingHost(pool, hostIdOrNull);
        return checkStorage(origin, pool, hostId, Resources.domainRef(domain), true)
                .compose(answer -> {
                    Envelope envelope = origin.envelope(pool, UUID.randomUUID().toString());
                    List<Outgoing> volumes = answer.getVolumes().stream().filter(v -> view.volume(v.getId()).isEmpty())
                            .map(v -> new Outgoing(Topics.VOLUME_STATE, v.getId(), imported(envelope, v)))
                            .toList();
                    List<Outgoing> backups = newBackups(answer, envelope);
                    List<Outgoing> records = new ArrayList<>(volumes);
                    records.addAll(backups);
                    int known = answer.getVolumes().size() - volumes.size();
                    return submitter.publishNew(records, List.of()).map(v -> {
                        LOG.info("domain {} '{}': {} volumes and {} backups imported, {} volumes known already (listed by host {})",
                                domain.getId(), domain.getName(), volumes.size(), backups.size(), known, hostId);
                        return new Imported(domain.getId(), volumes.size(), known, hostId, backups.size());
                    });
                });
    }

    /**
     * Changes a domain's properties (rotates an object store's keys, say): {@code changes} replace
     * those of the bag, and a secret sent back as {@code mask} (what a GET shows) stays as it is.
     * The new bag is checked against the driver's descriptors here and against the storage by a
     * host of the pool, as at creation, and must reach the same storage: a domain's volumes are
     * where they are, so other storage is {@code STORAGE_CHANGED}. Commands carry the domain's
     * properties, so the next ones use the new bag.
     */
    public Future<DomainState> update(String domainId, Map<String, String> changes, String mask, Origin origin) {
        return update(domainId, changes, null, mask, origin);
    }

    /**
     * As above, and with {@code trashRetentionSeconds} (null: unchanged) how long the domain's
     * trash keeps a deleted volume from now on; a change of that alone touches no storage.
     */
    public Future<DomainState> update(String domainId, Map<String, String> changes, Long trashRetentionSeconds, String mask, Origin origin) {
        DomainState domain = resources.domain(domainId);
        if (changes.isEmpty() && trashRetentionSeconds == null) {
            throw new Invalid("properties", "REQUIRED", "name at least one property to change, or trashRetention");
        }
        if (changes.isEmpty()) {
            return publishUpdate(domainId, d -> d.setTrashRetentionSeconds(trashRetentionSeconds), origin).map(updated -> {
                LOG.info("domain {} '{}': trash retention {} s", domainId, domain.getName(), trashRetentionSeconds);
                return updated;
            });
        }
        StorageDriver driver = drivers.find(domain.getDriver()).orElseThrow(() -> new Unavailable("UNKNOWN_DRIVER",
                "this manager has no driver '" + domain.getDriver() + "' to check the new properties with", "properties", false));
        Map<String, String> bag = new java.util.LinkedHashMap<>(domain.getProperties());
        changes.forEach((k, v) -> {
            boolean secret = driver.properties().stream().anyMatch(p -> p.name().equals(k) && p.secret());
            if (!(secret && v.equals(mask))) {
                bag.put(k, v);
            }
        });
        PropertyValidator.Result shape = PropertyValidator.checkShape(driver, bag);
        if (!shape.valid()) {
            throw new Invalid("INVALID_PROPERTIES", shape.violations().stream()
                    .map(v -> new Problem("properties." + v.property(), v.code(), v.message())).toList());
        }
        String pool = domain.getEnvelope().getPool();
        String hostId = checkingHost(pool, null);
        DomainRef ref = DomainRef.newBuilder().setId(domainId).setDriver(driver.name()).setProperties(shape.properties()).build();
        return checkStorage(origin, pool, hostId, ref, false).compose(answer -> {
            if (domain.getStorageId() != null && !domain.getStorageId().equals(answer.getStorageId())) {
                throw new Conflict("STORAGE_CHANGED", "the new properties reach other storage (" + answer.getStorageId() + ") than domain '"
                        + domain.getName() + "' is on (" + domain.getStorageId() + "); its volumes are there: create another domain for "
                        + "other storage", "properties");
            }
            return publishUpdate(domainId, d -> {
                d.setProperties(shape.properties());
                if (trashRetentionSeconds != null) {
                    d.setTrashRetentionSeconds(trashRetentionSeconds);
                }
            }, origin).map(updated -> {
                LOG.info("domain {} '{}': properties {} changed (storage checked by host {})", domainId, domain.getName(),
                        changes.keySet(), hostId);
                return updated;
            });
        });
    }

    /** Publishes the domain as it is now (a maintenance may have changed its status meanwhile) with {@code change}, once the view has it. */
    private Future<DomainState> publishUpdate(String domainId, java.util.function.Consumer<DomainState.Builder> change, Origin origin) {
        DomainState current = resources.domain(domainId);
        DomainState.Builder builder = DomainState.newBuilder(current).setEnvelope(origin.envelope(current.getEnvelope().getPool(), domainId));
        change.accept(builder);
        DomainState updated = builder.build();
        return role.bus().publish(List.of(new Outgoing(Topics.DOMAIN_STATE, domainId, updated)))
                .compose(v -> Future.fromCompletionStage(view.sync()))
                .map(v -> updated);
    }

    /** The backups whose manifests the host found that the state does not know: the catalogue of a re-attached backup domain. */
    private List<Outgoing> newBackups(DomainStorageChecked answer, Envelope envelope) {
        return answer.getBackups().stream().filter(b -> view.backup(b.getBackupId()).isEmpty())
                .map(b -> new Outgoing(Topics.BACKUP_STATE, b.getBackupId(), BackupState.newBuilder(b).setEnvelope(envelope).build()))
                .toList();
    }

    /**
     * Removes a domain in maintenance from StorageBus: its state, its volumes' (the trash's too)
     * and their backup policies, and the backups kept on it, in one transaction with
     * {@code DomainDetached}. Its storage is not touched: creating a domain on it with
     * {@code importVolumes} brings the volumes, their chains and clone parents and the backup
     * catalogue back. Refused while a task runs on one of its volumes or a host holds a lease.
     */
    public Future<Detached> detach(String domainId, java.util.function.Predicate<String> leased, Origin origin) {
        DomainState domain = resources.domain(domainId);
        if (domain.getStatus() != DomainStatus.MAINTENANCE) {
            throw new Conflict("DOMAIN_NOT_IN_MAINTENANCE", "domain '" + domain.getName() + "' is " + domain.getStatus()
                    + "; put it in maintenance first (POST /api/v1/domains/" + domainId + "/maintenance), so no host uses it", null);
        }
        List<VolumeState> volumes = new ArrayList<>(view.volumesOf(domainId));
        for (String cursor = null; ; ) {
            Page<VolumeState> page = view.trash(cursor, 1000, v -> v.getDomainId().equals(domainId));
            volumes.addAll(page.items());
            if ((cursor = page.next()) == null) {
                break;
            }
        }
        java.util.Set<String> ids = new java.util.HashSet<>();
        volumes.forEach(v -> ids.add(v.getId()));
        view.runningTasks().stream().filter(t -> ids.contains(t.getVolumeId())).findFirst().ifPresent(t -> {
            throw new Conflict("DOMAIN_BUSY", "task " + t.getId() + " (" + t.getType() + ") runs on volume " + t.getVolumeId()
                    + " of domain '" + domain.getName() + "'; detach it once that is done", null);
        });
        volumes.stream().filter(v -> leased.test(v.getId())).findFirst().ifPresent(v -> {
            throw new Conflict("VOLUME_IN_USE", "volume '" + v.getName() + "' of domain '" + domain.getName()
                    + "' is prepared on a host; tear it down first", null);
        });
        List<Outgoing> records = new ArrayList<>();
        volumes.forEach(v -> {
            records.add(new Outgoing(Topics.VOLUME_STATE, v.getId(), null));
            view.backupPolicy(v.getId()).ifPresent(p -> records.add(new Outgoing(Topics.BACKUP_POLICY_STATE, v.getId(), null)));
        });
        List<String> backups = view.backups().stream().filter(b -> b.getTargetDomainId().equals(domainId)).map(BackupState::getBackupId).toList();
        backups.forEach(b -> records.add(new Outgoing(Topics.BACKUP_STATE, b, null)));
        records.add(new Outgoing(Topics.MAINTENANCE_STATE, domainId, null));
        records.add(new Outgoing(Topics.DOMAIN_STATE, domainId, null));
        Envelope envelope = origin.envelope(domain.getEnvelope().getPool(), domainId);
        records.add(new Outgoing(Topics.EVENTS, domainId, DomainDetached.newBuilder().setEnvelope(envelope).setDomainId(domainId)
                .setName(domain.getName()).setDriver(domain.getDriver()).setVolumes(volumes.size()).setBackups(backups.size()).build()));
        return role.bus().publish(records).compose(v -> Future.fromCompletionStage(view.sync())).map(v -> {
            LOG.info("domain {} '{}' detached: {} volumes and {} backups removed from the state, its storage untouched", domainId,
                    domain.getName(), volumes.size(), backups.size());
            return new Detached(domainId, volumes.size(), backups.size());
        });
    }

    /** The host that checks a pool's storage: the one named, or the pool's SPM, or any host of the pool. */
    private String checkingHost(String pool, String named) {
        if (named != null) {
            HostDirectory.Host host = hosts.all().stream().filter(h -> h.hostId().equals(named)).findFirst()
                    .orElseThrow(() -> new Invalid("hostId", "UNKNOWN_HOST", "no host '" + named + "' is connected"));
            if (!host.pool().equals(pool)) {
                throw new Invalid("hostId", "CROSS_POOL", "host '" + named + "' serves pool '" + host.pool() + "', not pool '" + pool + "'");
            }
            return named;
        }
        return spms.spmOf(pool).map(SpmTerm::hostId)
                .or(() -> hosts.all().stream().filter(h -> h.pool().equals(pool)).map(HostDirectory.Host::hostId).sorted().findFirst())
                .orElseThrow(() -> new Unavailable("NO_HOST", "no host of pool '" + pool + "' is connected to check the storage on; "
                        + "a domain is stored only once a host of its pool saw its storage: start a host worker of the pool", "pool", false));
    }

    /**
     * The host's answer to a storage check, or the refusal: the host's objections as property
     * errors, no answer in time as STORAGE_CHECK_TIMEOUT.
     */
    private Future<DomainStorageChecked> checkStorage(Origin origin, String pool, String hostId, DomainRef domain, boolean listVolumes) {
        String checkId = UUID.randomUUID().toString();
        CheckDomainStorage check = CheckDomainStorage.newBuilder().setEnvelope(origin.envelope(pool, checkId)).setCheckId(checkId)
                .setDomain(domain).setHostId(hostId).setListVolumes(listVolumes).build();
        return storageChecks.ask(role.bus(), check, storageCheckTimeout)
                .recover(e -> Future.failedFuture(e instanceof StorageChecks.NoAnswerException
                        ? new Unavailable("STORAGE_CHECK_TIMEOUT", e.getMessage(), "hostId", true) : e))
                .map(answer -> {
                    if (!answer.getViolations().isEmpty()) {
                        throw new Invalid("INVALID_PROPERTIES", answer.getViolations().stream().map(v -> new Problem("properties." + v.getProperty(),
                                v.getCode(), v.getMessage() + " (checked on host " + hostId + ")")).toList());
                    }
                    if (answer.getError() != null || answer.getStorageId() == null) {
                        throw new Unavailable("STORAGE_UNAVAILABLE", "host " + hostId + " cannot use the storage, nothing was changed: "
                                + answer.getError(), "properties", false);
                    }
                    return answer;
                });
    }

    /** A volume a host found on storage, as this manager records it: under its own envelope and task. */
    private static VolumeState imported(Envelope envelope, VolumeState found) {
        return VolumeState.newBuilder(found).setEnvelope(envelope).setTaskId(envelope.getCorrelationId()).setCreatedAt(envelope.getTimestamp()).build();
    }

    private void requireFreeDomainName(String name) {
        if (view.domains().stream().anyMatch(d -> d.getName().equals(name))) {
            throw new Conflict("DOMAIN_EXISTS", "a domain named '" + name + "' exists already", "name");
        }
    }
}
