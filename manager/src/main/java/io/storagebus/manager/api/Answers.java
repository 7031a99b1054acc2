package io.storagebus.manager.api;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Collectors;

import io.storagebus.bus.Envelopes;
import io.storagebus.manager.requests.Origin;
import io.storagebus.manager.requests.Submitted;
import io.storagebus.manager.state.Page;
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

    /**
     * Answers one page of a list as a JSON array, with {@code Link: <...>; rel="next"} (the same
     * request, {@code after} the page's last item) when more follow. {@code ?limit=} (1 to
     * {@value Page#MAX_LIMIT}, the default) and {@code ?after=} (a cursor a Link gave) choose it.
     */
    static <T> void page(RoutingContext ctx, PageRequest<T> request, Function<T, Object> json) {
        pageWith(ctx, request, items -> json);
    }

    /** {@link #page}, where how an item is shown depends on the page (what is looked up once for all its items). */
    static <T> void pageWith(RoutingContext ctx, PageRequest<T> request, PageJson<T> json) {
        String after = ctx.request().getParam("after");
        Page<T> page;
        try {
            page = request.page(after, limit(ctx));
        } catch (Page.BadCursorException e) {
            throw ApiError.badField("after", "INVALID_CURSOR", e.getMessage() + "; use the cursor of a Link header, or none for the first page");
        }
        if (page.next() != null) {
            String query = ctx.request().params().entries().stream().filter(e -> !e.getKey().equals("after"))
                    .map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                    .collect(Collectors.joining("&"));
            ctx.response().putHeader("Link", "<" + ctx.request().path() + "?" + (query.isEmpty() ? "" : query + "&") + "after=" + page.next()
                    + ">; rel=\"next\"");
        }
        ok(ctx, 200, new JsonArray(page.items().stream().map(json.of(page.items())).toList()));
    }

    /** How the items of one page are shown. */
    @FunctionalInterface
    interface PageJson<T> {
        Function<T, Object> of(List<T> items);
    }

    /** How a list route reads one page. */
    @FunctionalInterface
    interface PageRequest<T> {
        Page<T> page(String cursor, int limit);
    }

    private static int limit(RoutingContext ctx) {
        String limit = ctx.request().getParam("limit");
        if (limit == null) {
            return Page.MAX_LIMIT;
        }
        try {
            int n = Integer.parseInt(limit);
            if (n >= 1 && n <= Page.MAX_LIMIT) {
                return n;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw ApiError.badField("limit", "OUT_OF_RANGE", "limit must be a whole number from 1 to " + Page.MAX_LIMIT + ", got " + limit);
    }

    static ApiError methodNotAllowed(RoutingContext ctx) {
        return new ApiError(405, "METHOD_NOT_ALLOWED", ctx.request().method() + " is not allowed on " + ctx.request().path(), null, List.of());
    }
}
