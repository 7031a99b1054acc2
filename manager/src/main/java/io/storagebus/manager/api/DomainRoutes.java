package io.storagebus.manager.api;

import java.util.Comparator;
import java.util.Set;

import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.manager.requests.DomainRequests;
import io.storagebus.manager.requests.Resources;
import io.storagebus.schema.DomainState;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/** Storage domains: created once a host of the pool checked the storage, the volumes and backups on it imported, read, and detached. */
record DomainRoutes(DomainRequests domains, Resources resources, DriverRegistry drivers, LeaseDirectory leases, String defaultPool,
                    String issuer) {
    /** Ten years: longer is not a trash but an archive, and the sweeper's arithmetic stays far from overflow. */
    private static final long MAX_TRASH_RETENTION = 10L * 365 * 24 * 3600;

    void register(Router router) {
        router.post("/api/v1/domains").handler(this::create);
        router.post("/api/v1/domains/:id/import").handler(ctx -> domains.importVolumes(resources.domain(ctx.pathParam("id")),
                        ctx.request().getParam("hostId"), Answers.origin(ctx, issuer))
                .onSuccess(i -> Answers.ok(ctx, 200, new JsonObject().put("domainId", i.domainId()).put("importedVolumes", i.importedVolumes())
                        .put("knownVolumes", i.knownVolumes()).put("importedBackups", i.importedBackups()).put("checkedBy", i.checkedBy())))
                .onFailure(ctx::fail));
        router.get("/api/v1/domains").handler(ctx -> Answers.ok(ctx, 200, new JsonArray(resources.view().domains().stream()
                .sorted(Comparator.comparing(DomainState::getCreatedAt)).map(this::json).toList())));
        router.get("/api/v1/domains/:id").handler(ctx -> Answers.ok(ctx, 200, json(resources.domain(ctx.pathParam("id")))));
        router.patch("/api/v1/domains/:id").handler(ctx -> {
            RequestBody body = RequestBody.of(ctx, Set.of("properties", "trashRetention"));
            domains.update(ctx.pathParam("id"), body.stringMap("properties"), trashRetention(body), Views.MASK, Answers.origin(ctx, issuer))
                    .onSuccess(d -> Answers.ok(ctx, 200, json(d)))
                    .onFailure(ctx::fail);
        });
        router.delete("/api/v1/domains/:id").handler(ctx -> domains.detach(ctx.pathParam("id"), v -> leases.leaseOf(v).isPresent(),
                        Answers.origin(ctx, issuer))
                .onSuccess(d -> Answers.ok(ctx, 200, new JsonObject().put("domainId", d.domainId()).put("removedVolumes", d.removedVolumes())
                        .put("removedBackups", d.removedBackups())))
                .onFailure(ctx::fail));
    }

    private void create(RoutingContext ctx) {
        RequestBody body = RequestBody.of(ctx, Set.of("name", "driver", "properties", "pool", "importVolumes", "hostId", "trashRetention"));
        DomainRequests.Create request = new DomainRequests.Create(body.name("name"), body.requiredString("driver"),
                body.optionalString("pool", defaultPool), body.stringMap("properties"), body.optionalBoolean("importVolumes", false),
                body.optionalString("hostId", null), trashRetention(body));
        domains.create(request, Answers.origin(ctx, issuer))
                .onSuccess(created -> {
                    ctx.response().putHeader("Location", "/api/v1/domains/" + created.domain().getId());
                    Answers.ok(ctx, 201, json(created.domain()).put("checkedBy", created.checkedBy())
                            .put("importedVolumes", created.importedVolumes()).put("importedBackups", created.importedBackups()));
                })
                .onFailure(ctx::fail);
    }

    /** How long the domain's trash keeps a deleted volume, in seconds (a second to ten years); null when the body does not say. */
    private static Long trashRetention(RequestBody body) {
        if (!body.has("trashRetention")) {
            return null;
        }
        long seconds = body.optionalLong("trashRetention", 0, 1);
        if (seconds > MAX_TRASH_RETENTION) {
            throw ApiError.badField("trashRetention", "OUT_OF_RANGE", "trashRetention must be at most " + MAX_TRASH_RETENTION
                    + " seconds (ten years), got " + seconds);
        }
        return seconds;
    }

    /** A domain as stored, with what its trash holds and its SPM's capacity forecast once there is one. */
    private JsonObject json(DomainState d) {
        JsonObject json = Views.domain(d, drivers.find(d.getDriver()).orElse(null));
        var trash = resources.view().trashOf(d.getId());
        json.put("trash", new JsonObject().put("volumes", trash.volumes()).put("virtualSize", trash.virtualSize()));
        resources.view().capacity(d.getId()).ifPresent(c -> json.put("capacity", Views.capacity(c)));
        return json;
    }
}
