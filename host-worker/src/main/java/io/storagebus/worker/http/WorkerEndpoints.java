package io.storagebus.worker.http;

import java.util.concurrent.TimeUnit;

import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.worker.HostWorker;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host worker's HTTP side, for operators and orchestrators only: {@code GET /metrics}
 * (Prometheus), {@code /health/live} (the process answers), {@code /health/ready} (connected
 * to ZooKeeper and reading its host topic) and {@code /health} (the details as JSON).
 */
public final class WorkerEndpoints implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WorkerEndpoints.class);

    private final HostWorker worker;
    private final String host;
    private final int port;
    private final Lifecycle lifecycle = new Lifecycle("worker endpoints");
    private Vertx vertx;
    private HttpServer server;

    public WorkerEndpoints(HostWorker worker, String host, int port) {
        this.worker = worker;
        this.host = host;
        this.port = port;
    }

    public WorkerEndpoints start() throws Exception {
        lifecycle.start();
        vertx = Vertx.vertx();
        server = vertx.createHttpServer().requestHandler(this::handle).listen(port, host)
                .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        LOG.info("host {}: metrics and health at http://{}:{}/", worker.hostId(), host, server.actualPort());
        return this;
    }

    public int port() {
        return server.actualPort();
    }

    private void handle(HttpServerRequest request) {
        if (request.method() != HttpMethod.GET) {
            json(request, 405, new JsonObject().put("code", "METHOD_NOT_ALLOWED").put("message", "only GET is served here"));
            return;
        }
        switch (request.path()) {
            case "/metrics" -> request.response().putHeader("Content-Type", StorageBusMetrics.contentType())
                    .end(StorageBusMetrics.get().scrape());
            case "/health/live" -> json(request, worker.isStarted() ? 200 : 503, new JsonObject().put("status", worker.isStarted() ? "UP" : "DOWN"));
            case "/health/ready", "/health" -> {
                HostWorker.Health health = worker.health();
                JsonObject body = new JsonObject().put("status", health.ready() ? "UP" : "DOWN").put("host", worker.hostId())
                        .put("zookeeper", health.zooKeeper() ? "UP" : "DOWN").put("hostCommands", health.hostCommands() ? "UP" : "DOWN")
                        .put("spm", health.spm().map(t -> new JsonObject().put("pool", t.pool()).put("epoch", t.epoch())).orElse(null));
                json(request, health.ready() ? 200 : 503, body);
            }
            default -> json(request, 404, new JsonObject().put("code", "NOT_FOUND").put("message", "no such resource: " + request.path()));
        }
    }

    private static void json(HttpServerRequest request, int status, JsonObject body) {
        request.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> null).join();
    }
}
