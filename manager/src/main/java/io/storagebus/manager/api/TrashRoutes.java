package io.storagebus.manager.api;

import io.storagebus.manager.requests.Resources;
import io.storagebus.manager.requests.VolumeRequests;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/** The trash: deleted volumes, longest there first; brought back under their ids, or purged. */
record TrashRoutes(VolumeRequests volumes, Resources resources, String issuer) {
    void register(Router router) {
        router.get("/api/v1/trash").handler(this::list);
        router.post("/api/v1/trash/:id/restore").handler(ctx -> Answers.accepted(ctx, volumes.untrash(ctx.pathParam("id"),
                Answers.origin(ctx, issuer))));
        router.delete("/api/v1/trash/:id").handler(ctx -> Answers.accepted(ctx, volumes.purge(ctx.pathParam("id"),
                "true".equals(ctx.request().getParam("wipe")), Answers.origin(ctx, issuer))));
    }

    /** {@code ?domainId=} narrows the trash to one domain's volumes. */
    private void list(RoutingContext ctx) {
        String domainId = ctx.request().getParam("domainId");
        if (domainId != null) {
            resources.domain(domainId, "domainId");
        }
        Answers.page(ctx, (cursor, limit) -> resources.view().trash(cursor, limit, v -> domainId == null || domainId.equals(v.getDomainId())),
                Views::volume);
    }
}
