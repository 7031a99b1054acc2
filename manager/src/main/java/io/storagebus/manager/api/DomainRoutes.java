package io.storagebus.manager.api;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.PropertyValidator;
import io.storagebus.driver.StorageDriver;
import io.storagebus.leases.HostDirectory;
import io.storagebus.leases.SpmDirectory;
import io.storagebus.leases.SpmTerm;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.bus.PoolTopics;
import io.storagebus.manager.bus.StorageChecks;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.requests.TaskSubmitter;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.CheckDomainStorage;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.DomainStatus;
import io.storagebus.schema.DomainStorageChecked;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.VolumeState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Storage domains: creating one once a host of its pool checked the storage (the manager usually
 * cannot see it), importing the volumes found on it, and reading them.
 */
final class DomainRoutes {
    private static final Logger LOG = LoggerFactory.getLogger(DomainRoutes.class);

    private final TaskSubmitter submitter;
    private final String issuer;
    private final Vertx vertx;
    private final ManagerConfig config;
    private final StateView view;
    private final ActiveRole role;
    private final DriverRegistry drivers;
    private final HostDirectory hosts;
    private final SpmDirectory spms;
    /** Hosts check the storage of new domains: the manager usually cannot see it. */
    private final StorageChecks storageChecks;
    private final PoolTopics poolTopics;
    private final DomainStorage domainStorage;

    DomainRoutes(TaskSubmitter submitter, Vertx vertx, ManagerConfig config, StateView view, ActiveRole role, DriverRegistry drivers, HostDirectory hosts,
                 SpmDirectory spms, StorageChecks storageChecks, PoolTopics poolTopics, DomainStorage domainStorage) {
        this.submitter = submitter;
        this.issuer = "manager:" + config.managerId();
        this.vertx = vertx;
        this.config = config;
        this.view = view;
        this.role = role;
        this.drivers = drivers;
        this.hosts = hosts;
        this.spms = spms;
        this.storageChecks = storageChecks;
        this.poolTopics = poolTopics;
        this.domainStorage = domainStorage;
    }

    void register(Router router) {
        router.post("/api/v1/domains").handler(this::createDomain);
        router.post("/api/v1/domains/:id/import").handler(this::importVolumes);
        router.get("/api/v1/domains").handler(this::listDomains);
        router.get("/api/v1/domains/:id").handler(ctx -> Answers.ok(ctx, 200, json(domain(ctx.pathParam("id")))));
    }

    /**
     * Checks the bag's shape here, then has a host of the pool check the storage itself (the
     * manager usually cannot see it: a directory mounted on the hosts, a SAN's VG), refuses a
     * second domain on storage another domain uses, and with {@code importVolumes} registers the
     * volumes the host found there (a domain attached from elsewhere). Stored only on the host's yes.
     */
    private void createDomain(RoutingContext ctx) {
        RequestBody body = RequestBody.of(ctx, Set.of("name", "driver", "properties", "pool", "importVolumes", "hostId"));
        String name = body.name("name");
        String driverName = body.requiredString("driver");
        String pool = body.optionalString("pool", config.defaultPool());
        if (!Topics.POOL_NAME.matcher(pool).matches()) {
            throw ApiError.badField("pool", "INVALID_NAME", "pool must match " + Topics.POOL_NAME.pattern());
        }
        StorageDriver driver = drivers.find(driverName).orElseThrow(() -> ApiError.badField("driver", "UNKNOWN_DRIVER",
                "unknown driver '" + driverName + "'; available: " + drivers.all().stream().map(StorageDriver::name).toList()));
        Map<String, String> bag = body.stringMap("properties");
        boolean importVolumes = body.optionalBoolean("importVolumes", false);
        requireFreeDomainName(name);
        PropertyValidator.Result shape = PropertyValidator.checkShape(driver, bag);
        if (!shape.valid()) {
            throw invalidProperties(shape.violations().stream().map(v -> new ApiError.FieldError("properties." + v.property(), v.code(),
                    v.message())).toList());
        }
        String hostId = checkingHost(pool, body.optionalString("hostId", null));
        String id = UUID.randomUUID().toString();
        DomainRef ref = DomainRef.newBuilder().setId(id).setDriver(driverName).setProperties(shape.properties()).build();
        // The storage stays claimed until the domain is in the view (reserved below) or refused.
        AtomicReference<String> claimed = new AtomicReference<>();
        checkStorage(ctx, pool, hostId, ref, importVolumes)
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
                    Envelope envelope = Answers.origin(ctx, issuer).envelope(pool, id);
                    DomainState domain = DomainState.newBuilder()
                            .setEnvelope(envelope).setId(id).setName(name).setDriver(driverName).setProperties(shape.properties())
                            .setStatus(DomainStatus.ACTIVE).setCreatedAt(envelope.getTimestamp()).setStorageId(answer.getStorageId())
                            .build();
                    List<Outgoing> records = new ArrayList<>();
                    records.add(new Outgoing(Topics.DOMAIN_STATE, id, domain));
                    answer.getVolumes().forEach(v -> records.add(new Outgoing(Topics.VOLUME_STATE, v.getId(), imported(envelope, v))));
                    return submitter.publishNew(records, List.of()).map(v -> {
                        LOG.info("domain {} '{}' created ({} driver, pool {}, storage checked by host {}, {} volumes imported)", id, name,
                                driverName, pool, hostId, answer.getVolumes().size());
                        return domain;
                    });
                })
                .onComplete(ar -> {
                    if (claimed.get() != null) {
                        domainStorage.release(claimed.get());
                    }
                })
                .onSuccess(domain -> {
                    ctx.response().putHeader("Location", "/api/v1/domains/" + id);
                    Answers.ok(ctx, 201, json(domain).put("checkedBy", hostId).put("importedVolumes", importVolumes ? view.volumes().stream()
                            .filter(v -> v.getDomainId().equals(id)).count() : 0));
                })
                .onFailure(ctx::fail);
    }

    private static ApiError invalidProperties(List<ApiError.FieldError> errors) {
        return new ApiError(400, "INVALID_PROPERTIES", errors.size() == 1 ? errors.get(0).message()
                : errors.size() + " properties are invalid", errors.get(0).field(), errors);
    }

    /** The host that checks a pool's storage: the one named, or the pool's SPM, or any host of the pool. */
    private String checkingHost(String pool, String named) {
        if (named != null) {
            HostDirectory.Host host = hosts.all().stream().filter(h -> h.hostId().equals(named)).findFirst()
                    .orElseThrow(() -> ApiError.badField("hostId", "UNKNOWN_HOST", "no host '" + named + "' is connected"));
            if (!host.pool().equals(pool)) {
                throw ApiError.badField("hostId", "CROSS_POOL", "host '" + named + "' serves pool '" + host.pool() + "', not pool '" + pool + "'");
            }
            return named;
        }
        return spms.spmOf(pool).map(SpmTerm::hostId)
                .or(() -> hosts.all().stream().filter(h -> h.pool().equals(pool)).map(HostDirectory.Host::hostId).sorted().findFirst())
                .orElseThrow(() -> new ApiError(503, "NO_HOST", "no host of pool '" + pool + "' is connected to check the storage on; "
                        + "a domain is stored only once a host of its pool saw its storage: start a host worker of the pool", "pool", List.of()));
    }

    /**
     * The host's answer to a storage check, or the error to give: the host's objections as
     * property errors, no answer in time as 504 STORAGE_CHECK_TIMEOUT.
     */
    private Future<DomainStorageChecked> checkStorage(RoutingContext ctx, String pool, String hostId, DomainRef domain, boolean listVolumes) {
        String checkId = UUID.randomUUID().toString();
        CheckDomainStorage check = CheckDomainStorage.newBuilder().setEnvelope(Answers.origin(ctx, issuer).envelope(pool, checkId)).setCheckId(checkId)
                .setDomain(domain).setHostId(hostId).setListVolumes(listVolumes).build();
        return storageChecks.ask(role.bus(), check, config.storageCheckTimeout())
                .recover(e -> Future.failedFuture(e instanceof StorageChecks.NoAnswerException
                        ? new ApiError(504, "STORAGE_CHECK_TIMEOUT", e.getMessage(), "hostId", List.of()) : e))
                .map(answer -> {
                    if (!answer.getViolations().isEmpty()) {
                        throw invalidProperties(answer.getViolations().stream().map(v -> new ApiError.FieldError("properties." + v.getProperty(),
                                v.getCode(), v.getMessage() + " (checked on host " + hostId + ")")).toList());
                    }
                    if (answer.getError() != null || answer.getStorageId() == null) {
                        throw new ApiError(503, "STORAGE_UNAVAILABLE", "host " + hostId + " cannot use the storage, nothing was changed: "
                                + answer.getError(), "properties", List.of());
                    }
                    return answer;
                });
    }

    /**
     * Registers the volumes on a domain's storage that the state does not know: for a domain
     * attached without {@code importVolumes}, or after Kafka lost the state. Known volumes stay as
     * they are. The pool's SPM lists them, or the host named by {@code ?hostId=}.
     */
    private void importVolumes(RoutingContext ctx) {
        DomainState domain = domain(ctx.pathParam("id"));
        String pool = domain.getEnvelope().getPool();
        String hostId = checkingHost(pool, ctx.request().getParam("hostId"));
        checkStorage(ctx, pool, hostId, DomainRef.newBuilder().setId(domain.getId()).setDriver(domain.getDriver())
                .setProperties(domain.getProperties()).build(), true)
                .compose(answer -> {
                    Envelope envelope = Answers.origin(ctx, issuer).envelope(pool, UUID.randomUUID().toString());
                    List<Outgoing> records = answer.getVolumes().stream().filter(v -> view.volume(v.getId()).isEmpty())
                            .map(v -> new Outgoing(Topics.VOLUME_STATE, v.getId(), imported(envelope, v)))
                            .toList();
                    int known = answer.getVolumes().size() - records.size();
                    return submitter.publishNew(records, List.of()).map(v -> {
                        LOG.info("domain {} '{}': {} volumes imported, {} known already (listed by host {})", domain.getId(), domain.getName(),
                                records.size(), known, hostId);
                        return new JsonObject().put("domainId", domain.getId()).put("importedVolumes", records.size())
                                .put("knownVolumes", known).put("checkedBy", hostId);
                    });
                })
                .onSuccess(json -> Answers.ok(ctx, 200, json))
                .onFailure(ctx::fail);
    }

    /** A volume a host found on storage, as this manager records it: under its own envelope and task. */
    private static VolumeState imported(Envelope envelope, VolumeState found) {
        return VolumeState.newBuilder(found).setEnvelope(envelope).setTaskId(envelope.getCorrelationId()).setCreatedAt(envelope.getTimestamp()).build();
    }

    private void requireFreeDomainName(String name) {
        if (view.domains().stream().anyMatch(d -> d.getName().equals(name))) {
            throw ApiError.conflict("DOMAIN_EXISTS", "a domain named '" + name + "' exists already", "name");
        }
    }

    private DomainState domain(String id) {
        return view.domain(id).orElseThrow(() -> ApiError.notFound("DOMAIN_NOT_FOUND", "no domain with id '" + id + "'"));
    }

    private JsonObject json(DomainState d) {
        return Views.domain(d, drivers.find(d.getDriver()).orElse(null));
    }

    private void listDomains(RoutingContext ctx) {
        Answers.ok(ctx, 200, new JsonArray(view.domains().stream()
                .sorted(Comparator.comparing(DomainState::getCreatedAt)).map(this::json).toList()));
    }
}
