package io.storagebus.manager.api;

import java.util.Set;

import io.storagebus.manager.requests.BackupRequests;
import io.storagebus.manager.requests.Resources;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/** Backups of snapshots to an object-store domain: made, listed, deleted, restored into any domain of the pool. */
record BackupRoutes(BackupRequests backups, Resources resources, String issuer) {
    void register(Router router) {
        router.post("/api/v1/volumes/:id/backups").handler(this::backup);
        // Backups outlive their volume (that is what they are for): listed by volume id even once it is deleted.
        router.get("/api/v1/volumes/:id/backups").handler(ctx -> list(ctx, ctx.pathParam("id")));
        router.get("/api/v1/backups").handler(ctx -> list(ctx, ctx.request().getParam("volumeId")));
        router.get("/api/v1/backups/:id").handler(ctx -> Answers.ok(ctx, 200, Views.backup(resources.backup(ctx.pathParam("id")))));
        router.delete("/api/v1/backups/:id").handler(ctx -> Answers.accepted(ctx, backups.delete(resources.backup(ctx.pathParam("id")),
                "requested", Answers.origin(ctx, issuer))));
        router.post("/api/v1/backups/:id/restore").handler(this::restore);
    }

    /** Oldest first, a page at a time. */
    private void list(RoutingContext ctx, String volumeId) {
        Answers.page(ctx, (cursor, limit) -> resources.view().backups(volumeId, cursor, limit), Views::backup);
    }

    private void backup(RoutingContext ctx) {
        resources.volume(ctx.pathParam("id"));
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "snapshotId", "incremental"));
        Answers.accepted(ctx, backups.backup(new BackupRequests.Backup(ctx.pathParam("id"), body.requiredString("targetDomainId"),
                body.optionalString("snapshotId", null), body.optionalBoolean("incremental", false)), Answers.origin(ctx, issuer)));
    }

    private void restore(RoutingContext ctx) {
        resources.backup(ctx.pathParam("id"));
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "name"));
        Answers.accepted(ctx, backups.restore(ctx.pathParam("id"), body.requiredString("targetDomainId"), body.name("name"),
                Answers.origin(ctx, issuer)));
    }
}
