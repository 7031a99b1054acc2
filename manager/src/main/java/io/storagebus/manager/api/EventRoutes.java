package io.storagebus.manager.api;

import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import io.storagebus.bus.TopicMap;
import io.storagebus.manager.events.EventFilter;
import io.storagebus.manager.events.EventStream;
import io.storagebus.manager.events.StreamPosition;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code GET /api/v1/events}: the public events as server-sent events, filtered by type, domain,
 * volume and pool, resumed after {@code Last-Event-ID} (the header a browser's EventSource sends
 * on reconnecting, or the {@code lastEventId} parameter). docs/EVENTS.md, "Events over HTTP".
 */
final class EventRoutes {
    /** Simple names of the records on storagebus.events: what {@code type} may name. */
    private static final Set<String> TYPES = TopicMap.EVENTS.types().stream().map(Class::getSimpleName)
            .collect(Collectors.toCollection(TreeSet::new));

    private final EventStream stream;

    EventRoutes(EventStream stream) {
        this.stream = stream;
    }

    void register(Router router) {
        router.get("/api/v1/events").handler(this::follow);
    }

    private void follow(RoutingContext ctx) {
        EventFilter filter = new EventFilter(types(ctx.request().getParam("type")), ctx.request().getParam("domain"),
                ctx.request().getParam("volume"), ctx.request().getParam("pool"));
        String header = ctx.request().getHeader("Last-Event-ID");
        String field = header != null ? "Last-Event-ID" : "lastEventId";
        String lastEventId = header != null ? header : ctx.request().getParam("lastEventId");
        StreamPosition resume = null;
        if (lastEventId != null && !lastEventId.isBlank()) {
            try {
                resume = StreamPosition.parse(lastEventId.strip(), stream.partitions());
            } catch (IllegalArgumentException e) {
                throw ApiError.badField(field, "INVALID_VALUE", field + ": " + e.getMessage());
            }
        }
        stream.follow(ctx.request(), filter, resume);
    }

    /** Names from {@code type=A,B}; the full names (io.storagebus.schema.VolumeCreated) are taken too. */
    private static Set<String> types(String param) {
        if (param == null || param.isBlank()) {
            return Set.of();
        }
        Set<String> types = Arrays.stream(param.split(",")).map(String::strip).filter(t -> !t.isEmpty())
                .map(t -> t.substring(t.lastIndexOf('.') + 1)).collect(Collectors.toSet());
        Set<String> unknown = new TreeSet<>(types);
        unknown.removeAll(TYPES);
        if (!unknown.isEmpty()) {
            throw ApiError.badField("type", "INVALID_VALUE", "no event type " + unknown + "; the types are " + TYPES);
        }
        return types;
    }
}
