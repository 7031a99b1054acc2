package io.storagebus.manager.api;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.HostDirectory;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.leases.SpmDirectory;
import io.storagebus.manager.HealthCheck;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.manager.bus.PublishFailedException;
import io.storagebus.manager.events.EventStream;
import io.storagebus.manager.bus.PublishUnconfirmedException;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.maintenance.SubscriberRegistry;
import io.storagebus.manager.requests.RequestException;
import io.storagebus.manager.requests.Requests;
import io.storagebus.manager.requests.Resources;
import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.TokensFile;
import io.storagebus.manager.state.StateHistory;
import io.storagebus.manager.state.StateView;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.TaskStatus;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.StaticHandler;
import org.apache.curator.framework.CuratorFramework;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The REST API, {@code /api/v1}: the HTTP adapter onto the manager's {@link Requests}. Reads
 * answer from the {@link StateView}; writes are parsed here into typed requests, whose refusals
 * ({@link RequestException}) become JSON errors in one place ({@link ApiError#of}).
 */
public final class RestApi {
    private static final Logger LOG = LoggerFactory.getLogger(RestApi.class);
    /** The OpenAPI 3.1 document of this API; OpenApiIT holds it to the routes below and its examples to its schemas. */
    private static final Buffer OPENAPI = openApi();
    private static final StaticHandler CONSOLE = StaticHandler.create("io/storagebus/console").setIndexPage("index.html")
            .setCachingEnabled(false);

    private final StateView view;
    private final ActiveRole role;
    private final DriverRegistry drivers;
    private final HealthCheck health;
    private final StateHistory history;
    private final AccessControl access;
    private final Vertx vertx;
    private final List<Consumer<Router>> routes;

    public RestApi(Vertx vertx, ManagerConfig config, Requests requests, ActiveRole role, DriverRegistry drivers, HealthCheck health,
                   CuratorFramework zk, SpmDirectory spms, HostDirectory hosts, LeaseDirectory leases,
                   SubscriberRegistry subscribers, TokensFile tokens, StateHistory history, EventStream events) {
        this.vertx = vertx;
        this.access = new AccessControl(tokens);
        this.view = requests.resources().view();
        this.role = role;
        this.drivers = drivers;
        this.health = health;
        this.history = history;
        String issuer = "manager:" + config.managerId();
        Resources resources = requests.resources();
        this.routes = List.of(
                new DomainRoutes(requests.domains(), resources, drivers, leases, config.defaultPool(), issuer)::register,
                new VolumeRoutes(requests.volumes(), resources, leases, issuer)::register,
                new TrashRoutes(requests.volumes(), resources, issuer)::register,
                new TransferRoutes(requests.transfers(), requests.volumes(), issuer)::register,
                new ClusterRoutes(vertx, zk, spms, hosts, leases)::register,
                new MaintenanceRoutes(role, view, subscribers, drivers)::register,
                new VolumeChainRoutes(requests.snapshots(), resources, issuer)::register,
                new BackupRoutes(requests.backups(), resources, issuer)::register,
                new BackupPolicyRoutes(requests.policies(), resources, issuer)::register,
                new EventRoutes(events)::register);
    }

    public Router router() {
        Router router = Router.router(vertx);
        router.route().handler(this::measured);
        router.get("/metrics").handler(ctx -> ctx.response().putHeader("Content-Type", StorageBusMetrics.contentType())
                .end(StorageBusMetrics.get().scrape()));
        router.get("/health/live").handler(ctx -> ok(ctx, 200, new JsonObject().put("status", "UP")));
        router.get("/health/ready").handler(this::ready);
        // The API's description is no secret: served before the token check, so a client generator needs none.
        router.get("/api/v1/openapi.json").handler(ctx -> ctx.response().putHeader("Content-Type", Answers.JSON).end(OPENAPI));
        router.route("/api/*").handler(access::handle);
        router.route("/api/*").handler(BodyHandler.create().setBodyLimit(1 << 20));
        router.route("/api/*").handler(RequestBody::wellFormed);
        router.route("/api/*").handler(this::writesOnActiveOnly);
        router.get("/api/v1/health").handler(this::health);
        router.get("/api/v1/drivers").handler(ctx -> ok(ctx, 200, new JsonArray(drivers.all().stream().map(Views::driver).toList())));
        routes.forEach(r -> r.accept(router));
        router.post("/api/v1/state/accept-loss").handler(ctx -> vertx.executeBlocking(() -> {
            history.acceptLoss();
            return null;
        }, false).onSuccess(v -> ok(ctx, 200, new JsonObject().put("status", "ACCEPTED")
                .put("message", "the state as it is now is the state from now on"))).onFailure(ctx::fail));
        router.get("/api/v1/tasks").handler(this::listTasks);
        router.get("/api/v1/tasks/:id").handler(ctx -> ok(ctx, 200, Views.task(view.task(ctx.pathParam("id"))
                .orElseThrow(() -> ApiError.notFound("TASK_NOT_FOUND", "no task with id '" + ctx.pathParam("id") + "'")))));

        // The web console: static files from the jar, at / and /console/; it reads and acts through this API with the user's token.
        // Revalidated on every load (no-cache), so a browser never runs the console of the release before an upgrade.
        router.routeWithRegex("/(console/.*)?").method(HttpMethod.GET).method(HttpMethod.HEAD).handler(ctx -> {
            ctx.response().putHeader("Content-Security-Policy", "default-src 'self'; object-src 'none'; frame-ancestors 'none'")
                    .putHeader("X-Content-Type-Options", "nosniff").putHeader("Referrer-Policy", "no-referrer")
                    .putHeader("Cache-Control", "no-cache");
            ctx.next();
        }).handler(CONSOLE);

        router.errorHandler(404, ctx -> error(ctx, ApiError.notFound("NOT_FOUND", "no such resource: " + ctx.request().path())));
        router.errorHandler(405, ctx -> error(ctx, Answers.methodNotAllowed(ctx)));
        router.errorHandler(413, ctx -> error(ctx, new ApiError(413, "BODY_TOO_LARGE", "request body exceeds 1 MiB", null, List.of())));
        // A request the router itself cannot read (a bad %-escape in the path): a stranger's mistake, not ours to log at length.
        router.errorHandler(400, ctx -> error(ctx, ctx.failure() instanceof ApiError e ? e : new ApiError(400, "BAD_REQUEST",
                "the request cannot be read" + (ctx.failure() == null ? "" : ": " + ctx.failure().getMessage()), null, List.of())));
        router.errorHandler(500, this::failure);
        return router;
    }

    private static Buffer openApi() {
        try (var in = RestApi.class.getResourceAsStream("openapi.json")) {
            if (in == null) {
                throw new IllegalStateException("openapi.json is missing from the manager's jar");
            }
            return Buffer.buffer(in.readAllBytes());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The role a request needs ({@code viewer}, {@code operator}, {@code admin}), as the access control judges it. */
    public static String requiredRole(HttpMethod method, String path) {
        return AccessControl.required(method, path).name().toLowerCase(Locale.ROOT);
    }

    /** What a router serves, as {@code METHOD /path/{param}}: the routes with a method (not the handlers every request passes). */
    public static List<String> routes(Router router) {
        return router.getRoutes().stream().filter(r -> r.getPath() != null && r.methods() != null && !r.methods().isEmpty())
                .flatMap(r -> r.methods().stream().map(m -> m.name() + " " + r.getPath().replaceAll(":([A-Za-z]+)", "{$1}")))
                .sorted().toList();
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
            String correlationId = ctx.response().headers().get(Answers.CORRELATION_HEADER);
            if (correlationId == null && ctx.request().method() == HttpMethod.GET) {
                return; // reads are counted, not logged
            }
            if (correlationId != null) {
                MDC.put("correlationId", correlationId);
            }
            try {
                ApiTokens.Principal who = ctx.get(AccessControl.PRINCIPAL);
                LOG.info("{} {} -> {} in {} ms{}", ctx.request().method(), ctx.request().path(), status, Math.round(seconds * 1000),
                        who == null ? "" : " by token '" + who.name() + "' (" + who.role().name().toLowerCase(Locale.ROOT) + ")");
            } finally {
                MDC.remove("correlationId");
            }
        });
        ctx.next();
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
            error(ctx, ApiError.of(role.notActive(), ctx.request().uri()));
        }
    }

    private void health(RoutingContext ctx) {
        health.check().onComplete(ar -> {
            JsonObject body = ar.succeeded() ? ar.result() : new JsonObject().put("status", "DOWN").put("error", ar.cause().getMessage());
            ok(ctx, "DOWN".equals(body.getString("status")) ? 503 : 200, body);
        });
    }

    /** Tasks, newest first, a page at a time; {@code ?status=RUNNING} (any TaskStatus) narrows them. */
    private void listTasks(RoutingContext ctx) {
        String status = ctx.request().getParam("status");
        if (status != null && Arrays.stream(TaskStatus.values()).noneMatch(s -> s.name().equals(status))) {
            throw ApiError.badField("status", "INVALID_VALUE", "status must be one of " + Arrays.toString(TaskStatus.values()));
        }
        Answers.page(ctx, (cursor, limit) -> view.tasks(cursor, limit, t -> status == null || t.getStatus().name().equals(status)),
                Views::task);
    }

    private void failure(RoutingContext ctx) {
        Throwable failure = ctx.failure();
        if (failure instanceof ApiError e) {
            error(ctx, e);
        } else if (failure instanceof RequestException e) {
            error(ctx, ApiError.of(e, ctx.request().uri()));
        } else if (failure instanceof DriverException e) {
            LOG.warn("{} {}: {} {}", ctx.request().method(), ctx.request().path(), e.code(), e.getMessage());
            error(ctx, new ApiError(503, "STORAGE_UNAVAILABLE", "the storage did not answer as expected, nothing was changed: "
                    + e.getMessage(), null, List.of()));
        } else if (failure instanceof PublishUnconfirmedException) {
            LOG.warn("{} {}: {}", ctx.request().method(), ctx.request().path(), failure.toString());
            error(ctx, ApiError.outcomeUnknown(failure.getMessage()));
        } else if (failure instanceof PublishFailedException || failure instanceof org.apache.kafka.common.KafkaException) {
            LOG.warn("{} {}: {}", ctx.request().method(), ctx.request().path(), failure.toString());
            error(ctx, ApiError.unavailable("nothing was changed: " + failure.getMessage()));
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
        request.response().setStatusCode(error.status()).putHeader("Content-Type", Answers.JSON).putHeader("Connection", "close")
                .end(error.toJson().encode()).onComplete(done -> request.connection().close());
    }

    private static void error(RoutingContext ctx, ApiError e) {
        Answers.error(ctx, e);
    }

    private static void ok(RoutingContext ctx, int status, Object json) {
        Answers.ok(ctx, status, json);
    }
}
