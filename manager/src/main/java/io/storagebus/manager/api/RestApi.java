package io.storagebus.manager.api;

import io.storagebus.bus.TaskType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.HostDirectory;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.leases.SpmDirectory;
import io.storagebus.leases.VolumeLease;
import io.storagebus.manager.HealthCheck;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.manager.backup.BackupScheduler;
import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.TokensFile;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.bus.PoolTopics;
import io.storagebus.manager.bus.PublishFailedException;
import io.storagebus.manager.bus.StorageChecks;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.maintenance.SubscriberRegistry;
import io.storagebus.manager.state.StateHistory;
import io.storagebus.manager.state.StateView;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CopyVolume;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.PrepareVolume;
import io.storagebus.schema.UnmonitorVolume;
import io.storagebus.schema.TeardownVolume;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import org.slf4j.MDC;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import org.apache.avro.specific.SpecificRecord;
import org.apache.curator.framework.CuratorFramework;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The REST API, {@code /api/v1}. Reads answer from the {@link StateView}; writes validate
 * everything first, then publish the command together with the state it implies through the
 * {@link CommandBus}, and answer 201 (domains) or 202 with a task (volumes).
 */
public final class RestApi {
    private static final Logger LOG = LoggerFactory.getLogger(RestApi.class);
    private static final String JSON = "application/json";
    /** Set on answers that started work: the correlation id its commands, events and log lines carry. */
    static final String CORRELATION_HEADER = "X-Correlation-Id";
    /** Largest volume accepted: 64 TiB, well inside what qcow2 and LVM address. */
    static final long MAX_VIRTUAL_SIZE = 64L << 40;
    static final long SECTOR = 512;

    private final ManagerConfig config;
    private final DomainRoutes domainRoutes;
    private final StateView view;
    private final ActiveRole role;
    private final DriverRegistry drivers;
    private final HealthCheck health;
    private final StateHistory history;
    private final ClusterRoutes cluster;
    private final HostDirectory hosts;
    private final LeaseDirectory leases;
    private final MaintenanceRoutes maintenanceRoutes;
    private final VolumeChainRoutes chainRoutes;
    private final BackupRoutes backupRoutes;
    private final BackupPolicyRoutes policyRoutes;
    private final AccessControl access;
    private final Vertx vertx;

    public RestApi(Vertx vertx, ManagerConfig config, StateView view, ActiveRole role, DriverRegistry drivers, HealthCheck health,
                   PoolTopics poolTopics, CuratorFramework zk, SpmDirectory spms, HostDirectory hosts, LeaseDirectory leases,
                   SubscriberRegistry subscribers, TokensFile tokens, StateHistory history, StorageChecks storageChecks) {
        this.vertx = vertx;
        this.access = new AccessControl(tokens);
        this.maintenanceRoutes = new MaintenanceRoutes(role, view, subscribers, drivers);
        this.hosts = hosts;
        this.leases = leases;
        this.cluster = new ClusterRoutes(vertx, zk, spms, hosts, leases);
        this.config = config;
        this.view = view;
        this.role = role;
        this.drivers = drivers;
        this.health = health;
        this.history = history;
        this.domainRoutes = new DomainRoutes(this, vertx, config, view, role, drivers, hosts, spms, storageChecks, poolTopics,
                new DomainStorage(view, drivers, config.reservedDirectories()));
        this.chainRoutes = new VolumeChainRoutes(this, view, leases, drivers);
        this.backupRoutes = new BackupRoutes(this, view, drivers);
        this.policyRoutes = new BackupPolicyRoutes(this, view, role, chainRoutes, backupRoutes);
    }

    public Router router() {
        Router router = Router.router(vertx);
        router.route().handler(this::measured);
        router.get("/metrics").handler(ctx -> ctx.response().putHeader("Content-Type", StorageBusMetrics.contentType())
                .end(StorageBusMetrics.get().scrape()));
        router.get("/health/live").handler(ctx -> ok(ctx, 200, new JsonObject().put("status", "UP")));
        router.get("/health/ready").handler(this::ready);
        router.route("/api/*").handler(access::handle);
        router.route("/api/*").handler(BodyHandler.create().setBodyLimit(1 << 20));
        router.route("/api/*").handler(RequestBody::wellFormed);
        router.route("/api/*").handler(this::writesOnActiveOnly);
        router.get("/api/v1/health").handler(this::health);
        router.get("/api/v1/drivers").handler(ctx -> ok(ctx, 200, new JsonArray(drivers.all().stream().map(Views::driver).toList())));
        domainRoutes.register(router);
        router.post("/api/v1/domains/:id/volumes").handler(this::createVolume);
        router.get("/api/v1/domains/:id/volumes").handler(this::listVolumes);
        router.get("/api/v1/volumes/:id").handler(ctx -> ok(ctx, 200, volumeJson(volumeOrThrow(ctx.pathParam("id")))));
        router.post("/api/v1/volumes/:id/prepare").handler(ctx -> hostTask(ctx, true));
        router.post("/api/v1/volumes/:id/teardown").handler(ctx -> hostTask(ctx, false));
        router.post("/api/v1/volumes/:id/copy").handler(this::copyVolume);
        router.post("/api/v1/volumes/:id/monitor").handler(ctx -> monitor(ctx, true));
        router.delete("/api/v1/volumes/:id/monitor").handler(ctx -> monitor(ctx, false));
        cluster.register(router);
        maintenanceRoutes.register(router);
        chainRoutes.register(router);
        backupRoutes.register(router);
        policyRoutes.register(router);
        router.post("/api/v1/state/accept-loss").handler(ctx -> vertx.executeBlocking(() -> {
            history.acceptLoss();
            return null;
        }, false).onSuccess(v -> ok(ctx, 200, new JsonObject().put("status", "ACCEPTED")
                .put("message", "the state as it is now is the state from now on"))).onFailure(ctx::fail));
        router.get("/api/v1/tasks").handler(this::listTasks);
        router.get("/api/v1/tasks/:id").handler(ctx -> ok(ctx, 200, Views.task(view.task(ctx.pathParam("id"))
                .orElseThrow(() -> ApiError.notFound("TASK_NOT_FOUND", "no task with id '" + ctx.pathParam("id") + "'")))));

        router.errorHandler(404, ctx -> error(ctx, ApiError.notFound("NOT_FOUND", "no such resource: " + ctx.request().path())));
        router.errorHandler(405, ctx -> error(ctx, new ApiError(405, "METHOD_NOT_ALLOWED",
                ctx.request().method() + " is not allowed on " + ctx.request().path(), null, List.of())));
        router.errorHandler(413, ctx -> error(ctx, new ApiError(413, "BODY_TOO_LARGE", "request body exceeds 1 MiB", null, List.of())));
        // A request the router itself cannot read (a bad %-escape in the path): a stranger's mistake, not ours to log at length.
        router.errorHandler(400, ctx -> error(ctx, ctx.failure() instanceof ApiError e ? e : new ApiError(400, "BAD_REQUEST",
                "the request cannot be read" + (ctx.failure() == null ? "" : ": " + ctx.failure().getMessage()), null, List.of())));
        router.errorHandler(500, this::failure);
        return router;
    }

    /**
     * Times every request into the metrics and logs it once answered, with the correlation id
     * (the task id) of what it started, so the request can be followed to the workers' logs.
     */
    private void measured(RoutingContext ctx) {
        long started = System.nanoTime();
        ctx.addEndHandler(done -> {
            int status = ctx.response().getStatusCode();
            double seconds = (System.nanoTime() - started) / 1e9;
            StorageBusMetrics.get().httpRequest(ctx.request().method().name(), status, seconds);
            String correlationId = ctx.response().headers().get(CORRELATION_HEADER);
            if (correlationId == null && ctx.request().method() == HttpMethod.GET) {
                return; // reads are counted, not logged
            }
            if (correlationId != null) {
                MDC.put("correlationId", correlationId);
            }
            try {
                ApiTokens.Principal who = ctx.get(AccessControl.PRINCIPAL);
                LOG.info("{} {} -> {} in {} ms{}", ctx.request().method(), ctx.request().path(), status, Math.round(seconds * 1000),
                        who == null ? "" : " by token '" + who.name() + "' (" + who.role().name().toLowerCase(java.util.Locale.ROOT) + ")");
            } finally {
                MDC.remove("correlationId");
            }
        });
        ctx.next();
    }

    /** Stamps the envelopes of a request's records: an HTTP request's, or the manager's own (its backup schedule). */
    @FunctionalInterface
    public interface Origin {
        Envelope envelope(String pool, String correlationId);
    }

    /** The origin of an HTTP request: its correlation id goes back to the client as {@value #CORRELATION_HEADER}. */
    Origin origin(RoutingContext ctx) {
        return (pool, correlationId) -> origin(ctx, pool, correlationId);
    }

    /** A request's first envelope; its correlation id goes back to the client as {@value #CORRELATION_HEADER}. */
    Envelope origin(RoutingContext ctx, String pool, String correlationId) {
        ctx.response().putHeader(CORRELATION_HEADER, correlationId);
        return Envelopes.origin(pool, "manager:" + config.managerId(), correlationId);
    }

    /** The requests the volumes' backup policies make, for the active manager's {@link BackupScheduler}. */
    public BackupScheduler.Actions scheduledRequests() {
        return policyRoutes.scheduledRequests(config.managerId());
    }

    /** Ready to serve: the state view is current and this manager knows its role (active or standby). */
    private void ready(RoutingContext ctx) {
        boolean ready = view.isCaughtUp() && (role.isActive() || role.activeManager().isPresent());
        ok(ctx, ready ? 200 : 503, new JsonObject().put("status", ready ? "UP" : "DOWN").put("role", role.isActive() ? "ACTIVE" : "STANDBY"));
    }

    /** Any manager answers reads; a standby points writes at the active manager (307) before looking at them. */
    private void writesOnActiveOnly(RoutingContext ctx) {
        HttpMethod method = ctx.request().method();
        if (method == HttpMethod.GET || method == HttpMethod.HEAD || role.isActive()) {
            ctx.next();
        } else {
            error(ctx, role.notActive(ctx.request().uri()));
        }
    }

    private void health(RoutingContext ctx) {
        health.check().onComplete(ar -> {
            JsonObject body = ar.succeeded() ? ar.result() : new JsonObject().put("status", "DOWN").put("error", ar.cause().getMessage());
            ok(ctx, "DOWN".equals(body.getString("status")) ? 503 : 200, body);
        });
    }

    private void createVolume(RoutingContext ctx) {
        DomainState domain = usable(domainOrThrow(ctx.pathParam("id")), null);
        RequestBody body = RequestBody.of(ctx, Set.of("name", "virtualSize", "format", "allocation", "initialSize"));
        String name = body.name("name");
        long virtualSize = body.requiredLong("virtualSize");
        if (virtualSize <= 0) {
            throw ApiError.badField("virtualSize", "OUT_OF_RANGE", "virtualSize must be positive, got " + virtualSize);
        }
        if (virtualSize > MAX_VIRTUAL_SIZE) {
            throw ApiError.badField("virtualSize", "OUT_OF_RANGE", "virtualSize must be at most " + MAX_VIRTUAL_SIZE + " (64 TiB)");
        }
        if (virtualSize % SECTOR != 0) {
            throw ApiError.badField("virtualSize", "NOT_ALIGNED", "virtualSize must be a multiple of 512 bytes, got " + virtualSize);
        }
        VolumeFormat format = body.optionalEnum("format", VolumeFormat.class, VolumeFormat.QCOW2, EnumSet.of(VolumeFormat.RAW, VolumeFormat.QCOW2));
        Allocation allocation = body.optionalEnum("allocation", Allocation.class, Allocation.THIN, EnumSet.of(Allocation.THIN, Allocation.PREALLOCATED));
        Long initialSize = body.has("initialSize") ? body.requiredLong("initialSize") : null;
        if (initialSize != null && (initialSize <= 0 || initialSize > virtualSize)) {
            throw ApiError.badField("initialSize", "OUT_OF_RANGE", "initialSize must be within 1.." + virtualSize + " (the virtual size), got " + initialSize);
        }
        if (initialSize != null && allocation != Allocation.THIN) {
            throw ApiError.badField("initialSize", "NOT_THIN", "initialSize applies to thin volumes only; a preallocated volume gets all of its size");
        }
        requireFreeVolumeName(domain, name);

        String taskId = UUID.randomUUID().toString();
        String volumeId = UUID.randomUUID().toString();
        Envelope envelope = origin(ctx, domain.getEnvelope().getPool(), taskId);
        CreateVolume command = CreateVolume.newBuilder()
                .setEnvelope(envelope).setTaskId(taskId).setVolumeId(volumeId)
                .setDomain(domainRef(domain))
                .setName(name).setVirtualSize(virtualSize).setFormat(format).setAllocation(allocation).setInitialSize(initialSize)
                .build();
        submitNewVolume(ctx, TaskType.CREATE_VOLUME, creating(envelope, volumeId, domain.getId(), name, virtualSize, format, allocation), command);
    }

    /**
     * Publishes a command that makes a new volume together with the volume's CREATING state and
     * its PENDING task, and answers 202 pointing at the task.
     */
    void submitNewVolume(RoutingContext ctx, TaskType taskType, VolumeState volume, SpecificRecord command) {
        Envelope envelope = volume.getEnvelope();
        String taskId = envelope.getCorrelationId();
        TaskState task = TaskState.newBuilder()
                .setEnvelope(envelope).setId(taskId).setType(taskType.name()).setStatus(TaskStatus.PENDING)
                .setDomainId(volume.getDomainId()).setVolumeId(volume.getId()).setCreatedAt(envelope.getTimestamp())
                .build();
        publishReserved(List.of(
                new Outgoing(Topics.VOLUME_STATE, volume.getId(), volume),
                new Outgoing(Topics.TASK_STATE, taskId, task),
                new Outgoing(Topics.spmCommands(envelope.getPool()), volume.getId(), command)))
                .onSuccess(v -> {
                    ctx.response().putHeader("Location", "/api/v1/tasks/" + taskId);
                    ok(ctx, 202, new JsonObject().put("taskId", taskId).put("volumeId", volume.getId()).put("status", TaskStatus.PENDING.name()));
                })
                .onFailure(ctx::fail);
    }

    static VolumeState creating(Envelope envelope, String volumeId, String domainId, String name, long virtualSize,
                                        VolumeFormat format, Allocation allocation) {
        return VolumeState.newBuilder()
                .setEnvelope(envelope).setId(volumeId).setDomainId(domainId).setName(name).setVirtualSize(virtualSize)
                .setFormat(format).setAllocation(allocation).setStatus(VolumeStatus.CREATING).setTaskId(envelope.getCorrelationId())
                .setCreatedAt(envelope.getTimestamp())
                .build();
    }

    VolumeState volumeOrThrow(String id) {
        return view.volume(id).orElseThrow(() -> ApiError.notFound("VOLUME_NOT_FOUND", "no volume with id '" + id + "'"));
    }

    /** A volume as stored, plus who uses it now (its lease, from ZooKeeper). */
    private JsonObject volumeJson(VolumeState v) {
        JsonObject json = Views.volume(v);
        leases.leaseOf(v.getId()).ifPresent(lease -> json.put("lease", ClusterRoutes.leaseJson(lease)));
        return json;
    }

    /**
     * Prepare (take the lease and activate) or tear down a volume on a host: a command on that
     * host's topic and a PENDING task, answered 202. Teardown defaults to the lease holder.
     */
    private void hostTask(RoutingContext ctx, boolean prepare) {
        VolumeState volume = volumeOrThrow(ctx.pathParam("id"));
        RequestBody body = RequestBody.of(ctx, Set.of("hostId"));
        String hostId = prepare ? body.requiredString("hostId")
                : body.optionalString("hostId", leases.leaseOf(volume.getId()).map(VolumeLease::hostId).orElse(null));
        if (hostId == null) {
            throw ApiError.conflict("NOT_PREPARED", "volume '" + volume.getName() + "' is not prepared on any host", null);
        }
        if (prepare && volume.getStatus() != VolumeStatus.READY) {
            throw ApiError.conflict("VOLUME_NOT_READY", "volume '" + volume.getName() + "' is " + volume.getStatus() + ", not READY", null);
        }
        DomainState domain = prepare ? usable(domainOrThrow(volume.getDomainId()), null) : domainOrThrow(volume.getDomainId());
        String pool = domain.getEnvelope().getPool();
        HostDirectory.Host host = hosts.all().stream().filter(h -> h.hostId().equals(hostId)).findFirst()
                .orElseThrow(() -> ApiError.badField("hostId", "UNKNOWN_HOST", "no host '" + hostId + "' is connected"));
        if (!host.pool().equals(pool)) {
            throw ApiError.badField("hostId", "CROSS_POOL", "host '" + hostId + "' serves pool '" + host.pool() + "', the volume is in pool '" + pool + "'");
        }
        String taskId = UUID.randomUUID().toString();
        Envelope envelope = origin(ctx, pool, taskId);
        SpecificRecord command = prepare
                ? PrepareVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                        .setDomain(domainRef(domain)).setHostId(hostId).build()
                : TeardownVolume.newBuilder().setEnvelope(envelope).setTaskId(taskId).setVolumeId(volume.getId())
                        .setDomain(domainRef(domain)).setHostId(hostId).build();
        TaskState task = TaskState.newBuilder()
                .setEnvelope(envelope).setId(taskId).setType((prepare ? TaskType.PREPARE_VOLUME : TaskType.TEARDOWN_VOLUME).name()).setStatus(TaskStatus.PENDING)
                .setDomainId(domain.getId()).setVolumeId(volume.getId()).setCreatedAt(envelope.getTimestamp())
                .build();
        publishReserved(List.of(
                new Outgoing(Topics.TASK_STATE, taskId, task),
                new Outgoing(Topics.hostCommands(hostId), volume.getId(), command)))
                .onSuccess(v -> {
                    ctx.response().putHeader("Location", "/api/v1/tasks/" + taskId);
                    ok(ctx, 202, new JsonObject().put("taskId", taskId).put("volumeId", volume.getId()).put("hostId", hostId)
                            .put("status", TaskStatus.PENDING.name()));
                })
                .onFailure(ctx::fail);
    }

    /** Copies a READY volume into a new volume of a domain of the same pool (a backup, when the target is an object store). */
    private void copyVolume(RoutingContext ctx) {
        String sourceId = ctx.pathParam("id");
        VolumeState source = volumeOrThrow(sourceId);
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "name"));
        String targetDomainId = body.requiredString("targetDomainId");
        String name = body.name("name");
        if (source.getStatus() != VolumeStatus.READY) {
            throw ApiError.conflict("VOLUME_NOT_READY", "volume '" + source.getName() + "' is " + source.getStatus() + ", not READY", null);
        }
        DomainState sourceDomain = usable(domainOrThrow(source.getDomainId()), null);
        DomainState target = usable(view.domain(targetDomainId).orElseThrow(() -> ApiError.badField("targetDomainId", "UNKNOWN_DOMAIN",
                "no domain with id '" + targetDomainId + "'")), "targetDomainId");
        String pool = sourceDomain.getEnvelope().getPool();
        if (!target.getEnvelope().getPool().equals(pool)) {
            throw ApiError.badField("targetDomainId", "CROSS_POOL", "the target domain is in pool '" + target.getEnvelope().getPool()
                    + "', the volume in pool '" + pool + "': a copy stays within one pool, whose SPM carries it out");
        }
        requireFreeVolumeName(target, name);

        String taskId = UUID.randomUUID().toString();
        String volumeId = UUID.randomUUID().toString();
        Envelope envelope = origin(ctx, pool, taskId);
        CopyVolume command = CopyVolume.newBuilder()
                .setEnvelope(envelope).setTaskId(taskId).setSourceVolumeId(sourceId).setSource(domainRef(sourceDomain))
                .setTargetVolumeId(volumeId).setTarget(domainRef(target)).setTargetName(name)
                .setVirtualSize(source.getVirtualSize()).setFormat(source.getFormat()).setAllocation(source.getAllocation())
                .build();
        submitNewVolume(ctx, TaskType.COPY_VOLUME, creating(envelope, volumeId, target.getId(), name, source.getVirtualSize(),
                source.getFormat(), source.getAllocation()), command);
    }

    void requireFreeVolumeName(DomainState domain, String name) {
        boolean taken = view.volumes().stream().anyMatch(v -> v.getDomainId().equals(domain.getId())
                && v.getName().equals(name) && v.getStatus() != VolumeStatus.FAILED);
        if (taken) {
            throw ApiError.conflict("VOLUME_EXISTS", "domain '" + domain.getName() + "' has a volume named '" + name + "' already", "name");
        }
    }

    /** A request's {@code targetDomainId} must be in the pool of what it works on: each pool's SPM carries out its own. */
    static void requireSamePool(DomainState target, String targetIs, DomainState other, String otherIs) {
        if (!target.getEnvelope().getPool().equals(other.getEnvelope().getPool())) {
            throw ApiError.badField("targetDomainId", "CROSS_POOL", "the " + targetIs + " is in pool '" + target.getEnvelope().getPool()
                    + "', the " + otherIs + " in pool '" + other.getEnvelope().getPool() + "'");
        }
    }

    static DomainRef domainRef(DomainState domain) {
        return DomainRef.newBuilder().setId(domain.getId()).setDriver(domain.getDriver()).setProperties(domain.getProperties()).build();
    }

    private void listVolumes(RoutingContext ctx) {
        DomainState domain = domainOrThrow(ctx.pathParam("id"));
        ok(ctx, 200, new JsonArray(view.volumes().stream().filter(v -> v.getDomainId().equals(domain.getId()))
                .sorted(Comparator.comparing(VolumeState::getCreatedAt)).map(this::volumeJson).toList()));
    }

    /**
     * Tells the host that holds the volume's lease that a QEMU uses it (its QMP socket and the
     * block node on the volume), so the host keeps it extended; DELETE stops that. 202: the host
     * answers with CommandFailed on the event stream if it cannot reach QEMU or find the node.
     */
    private void monitor(RoutingContext ctx, boolean start) {
        VolumeState volume = volumeOrThrow(ctx.pathParam("id"));
        RequestBody body = start ? RequestBody.of(ctx, Set.of("qmpSocket", "nodeName", "drive")) : null;
        String hostId = leases.leaseOf(volume.getId()).map(VolumeLease::hostId).orElseThrow(() -> ApiError.conflict("NOT_PREPARED",
                "volume '" + volume.getName() + "' is not prepared on any host; prepare it where the guest runs first", null));
        DomainState domain = start ? usable(domainOrThrow(volume.getDomainId()), null) : domainOrThrow(volume.getDomainId());
        Envelope envelope = origin(ctx, domain.getEnvelope().getPool(), UUID.randomUUID().toString());
        JsonObject answer = new JsonObject().put("volumeId", volume.getId()).put("hostId", hostId).put("monitored", start);
        SpecificRecord command;
        if (start) {
            String socket = body.requiredString("qmpSocket");
            if (!socket.startsWith("/") || socket.length() > 4096 || socket.contains("\0")) {
                throw ApiError.badField("qmpSocket", "INVALID_PATH", "qmpSocket must be the absolute path of QEMU's QMP unix socket on host '" + hostId + "'");
            }
            String node = qemuName(body, "nodeName", body.requiredString("nodeName"));
            String drive = qemuName(body, "drive", body.optionalString("drive", null));
            command = MonitorVolume.newBuilder().setEnvelope(envelope).setVolumeId(volume.getId()).setDomain(domainRef(domain))
                    .setHostId(hostId).setQmpSocket(socket).setNodeName(node).setDrive(drive).build();
            answer.put("qmpSocket", socket).put("nodeName", node).put("drive", drive);
        } else {
            command = UnmonitorVolume.newBuilder().setEnvelope(envelope).setVolumeId(volume.getId()).setHostId(hostId).build();
        }
        role.bus().publish(List.of(new Outgoing(Topics.hostCommands(hostId), volume.getId(), command)))
                .onSuccess(v -> ok(ctx, 202, answer))
                .onFailure(ctx::fail);
    }

    /** QEMU ids and node names: a letter, then letters, digits, '-', '.', '_'; at most 31 characters. */
    private static final java.util.regex.Pattern QEMU_NAME = java.util.regex.Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,30}");

    private static String qemuName(RequestBody body, String field, String value) {
        if (value != null && !QEMU_NAME.matcher(value).matches()) {
            throw ApiError.badField(field, "INVALID_NAME", field + " must be a QEMU node or device name: " + QEMU_NAME.pattern());
        }
        return value;
    }

    /**
     * A command to the SPM of its envelope's pool with its PENDING task (and new state records to
     * reserve, existing ones to update), in one transaction. Completes with {@code answer} plus the
     * task's id and status, once published.
     */
    Future<JsonObject> submitTask(TaskType taskType, String domainId, String volumeId, SpecificRecord command, JsonObject answer,
                                  List<Outgoing> reserve, List<Outgoing> updates) {
        Envelope envelope = Envelopes.of(command);
        String taskId = envelope.getCorrelationId();
        TaskState task = TaskState.newBuilder().setEnvelope(envelope).setId(taskId).setType(taskType.name()).setStatus(TaskStatus.PENDING)
                .setDomainId(domainId).setVolumeId(volumeId).setCreatedAt(envelope.getTimestamp()).build();
        List<Outgoing> records = new ArrayList<>(reserve);
        records.add(new Outgoing(Topics.TASK_STATE, taskId, task));
        records.add(new Outgoing(Topics.spmCommands(envelope.getPool()), volumeId, command));
        return publishReserved(records, updates)
                .map(v -> answer.put("taskId", taskId).put("volumeId", volumeId).put("status", TaskStatus.PENDING.name()));
    }

    /** Answers a submitted task: 202 pointing at it, or the failure. */
    static void accepted(RoutingContext ctx, Future<JsonObject> submitted) {
        submitted.onSuccess(answer -> {
            ctx.response().putHeader("Location", "/api/v1/tasks/" + answer.getString("taskId"));
            ok(ctx, 202, answer);
        }).onFailure(ctx::fail);
    }

    Future<Void> publishReserved(List<Outgoing> records) {
        return publishReserved(records, List.of());
    }

    /**
     * Shows new state records in the view at once (so concurrent requests see the name taken and
     * the client reads its own write), publishes them with the rest and with {@code updates} of
     * existing state in one transaction, and takes the reservations back on failure.
     */
    Future<Void> publishReserved(List<Outgoing> records, List<Outgoing> updates) {
        List<SpecificRecord> reserved = new ArrayList<>();
        for (Outgoing o : records) {
            if (!o.topic().startsWith("storagebus.state.")) {
                continue;
            }
            if (!view.reserve(o.value())) {
                reserved.forEach(view::release);
                return Future.failedFuture(ApiError.conflict("CONFLICT", "the resource changed concurrently; retry", null));
            }
            reserved.add(o.value());
        }
        List<Outgoing> all = new ArrayList<>(records);
        all.addAll(updates);
        return role.bus().publish(all).onFailure(e -> reserved.forEach(view::release));
    }

    /** Tasks, newest first; {@code ?status=RUNNING} (any TaskStatus) narrows them. */
    private void listTasks(RoutingContext ctx) {
        String status = ctx.request().getParam("status");
        if (status != null && java.util.Arrays.stream(TaskStatus.values()).noneMatch(s -> s.name().equals(status))) {
            throw ApiError.badField("status", "INVALID_VALUE", "status must be one of " + java.util.Arrays.toString(TaskStatus.values()));
        }
        ok(ctx, 200, new JsonArray(view.tasks().stream()
                .filter(t -> status == null || t.getStatus().name().equals(status))
                .sorted(java.util.Comparator.comparing(TaskState::getCreatedAt).reversed())
                .map(Views::task).toList()));
    }

    /** A domain volumes may be used on: not in maintenance, nor being taken into it. */
    DomainState usable(DomainState domain, String field) {
        role.maintenance().refusesVolumeOperations(domain.getId()).ifPresent(why -> {
            throw ApiError.conflict("DOMAIN_IN_MAINTENANCE", "domain '" + domain.getName() + "' " + why
                    + "; volume operations resume once it is activated (POST /api/v1/domains/" + domain.getId() + "/activate)", field);
        });
        return domain;
    }

    DomainState domainOrThrow(String id) {
        return view.domain(id).orElseThrow(() -> ApiError.notFound("DOMAIN_NOT_FOUND", "no domain with id '" + id + "'"));
    }

    JsonObject domainJson(DomainState d) {
        return Views.domain(d, drivers.find(d.getDriver()).orElse(null));
    }

    private void failure(RoutingContext ctx) {
        Throwable failure = ctx.failure();
        if (failure instanceof ApiError e) {
            error(ctx, e);
        } else if (failure instanceof DriverException e) {
            LOG.warn("{} {}: {} {}", ctx.request().method(), ctx.request().path(), e.code(), e.getMessage());
            error(ctx, new ApiError(503, "STORAGE_UNAVAILABLE", "the storage did not answer as expected, nothing was changed: "
                    + e.getMessage(), null, List.of()));
        } else if (failure instanceof PublishFailedException || failure instanceof org.apache.kafka.common.KafkaException) {
            LOG.warn("{} {}: {}", ctx.request().method(), ctx.request().path(), failure.toString());
            boolean unconfirmed = failure.getCause() instanceof org.apache.kafka.common.errors.TimeoutException;
            error(ctx, ApiError.unavailable(unconfirmed ? failure.getMessage() : "nothing was changed: " + failure.getMessage()));
        } else {
            LOG.error("{} {} failed", ctx.request().method(), ctx.request().path(), failure);
            error(ctx, new ApiError(500, "INTERNAL_ERROR", "internal error; nothing was changed", null, List.of()));
        }
    }

    /**
     * A request HTTP itself cannot read (a request line or headers over Netty's limits, garbage):
     * answered as JSON with a code like every other error, then the connection is closed, since
     * what follows on it cannot be trusted.
     */
    public static void invalidRequest(io.vertx.core.http.HttpServerRequest request) {
        Throwable cause = request.decoderResult().cause();
        ApiError error = cause instanceof io.netty.handler.codec.http.TooLongHttpLineException
                ? new ApiError(414, "URI_TOO_LONG", "the request line is longer than 4096 bytes", null, List.of())
                : cause instanceof io.netty.handler.codec.http.TooLongHttpHeaderException
                ? new ApiError(431, "HEADERS_TOO_LARGE", "the request's headers are larger than 8192 bytes", null, List.of())
                : new ApiError(400, "BAD_REQUEST", "not a valid HTTP request", null, List.of());
        request.response().setStatusCode(error.status()).putHeader("Content-Type", JSON).putHeader("Connection", "close")
                .end(error.toJson().encode()).onComplete(done -> request.connection().close());
    }

    private static void error(RoutingContext ctx, ApiError e) {
        e.headers().forEach((name, value) -> ctx.response().putHeader(name, value));
        ok(ctx, e.status(), e.toJson());
    }

    static void ok(RoutingContext ctx, int status, Object json) {
        if (ctx.response().ended()) {
            return;
        }
        ctx.response().setStatusCode(status).putHeader("Content-Type", JSON)
                .end(json instanceof JsonObject o ? o.encode() : ((JsonArray) json).encode());
    }
}
