package io.storagebus.manager.api;

import java.util.List;

import io.storagebus.bus.Envelopes;
import io.storagebus.manager.requests.Origin;
import io.storagebus.manager.requests.Submitted;
import io.storagebus.schema.TaskStatus;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** How every route answers: JSON with a status, 202 pointing at a submitted task, errors as {@link ApiError}. */
final class Answers {
    static final String JSON = "application/json";
    /** Set on answers that started work: the correlation id its commands, events and log lines carry. */
    static final String CORRELATION_HEADER = "X-Correlation-Id";

    private Answers() {
    }

    static void ok(RoutingContext ctx, int status, Object json) {
        if (ctx.response().ended()) {
            return;
        }
        ctx.response().setStatusCode(status).putHeader("Content-Type", JSON)
                .end(json instanceof JsonObject o ? o.encode() : ((JsonArray) json).encode());
    }

    static void error(RoutingContext ctx, ApiError e) {
        e.headers().forEach((name, value) -> ctx.response().putHeader(name, value));
        ok(ctx, e.status(), e.toJson());
    }

    /** 202 pointing at the task, once the request is published; else the failure, for the router's error handler. */
    static void accepted(RoutingContext ctx, Future<Submitted> submitted) {
        submitted.onSuccess(s -> {
            ctx.response().putHeader("Location", "/api/v1/tasks/" + s.taskId());
            JsonObject answer = new JsonObject().put("taskId", s.taskId()).put("volumeId", s.volumeId());
            s.details().forEach(answer::put);
            ok(ctx, 202, answer.put("status", TaskStatus.PENDING.name()));
        }).onFailure(ctx::fail);
    }

    /**
     * The origin of an HTTP request, issued by this manager: the correlation id of what it starts
     * goes back to the client as {@value #CORRELATION_HEADER}.
     */
    static Origin origin(RoutingContext ctx, String issuer) {
        return (pool, correlationId) -> {
            ctx.response().putHeader(CORRELATION_HEADER, correlationId);
            return Envelopes.origin(pool, issuer, correlationId);
        };
    }

    static ApiError methodNotAllowed(RoutingContext ctx) {
        return new ApiError(405, "METHOD_NOT_ALLOWED", ctx.request().method() + " is not allowed on " + ctx.request().path(), null, List.of());
    }
}
