package io.storagebus.manager.api;

import java.util.Set;

import io.storagebus.manager.requests.Resources;
import io.storagebus.manager.requests.SnapshotRequests;
import io.vertx.core.json.JsonArray;
import io.vertx.ext.web.Router;

/** A volume's chain of layers: snapshots, merging one away, and copy-on-write clones. */
record VolumeChainRoutes(SnapshotRequests snapshots, Resources resources, String issuer) {
    void register(Router router) {
        router.post("/api/v1/volumes/:id/snapshots").handler(ctx -> Answers.accepted(ctx, snapshots.snapshot(ctx.pathParam("id"),
                RequestBody.of(ctx, Set.of("name")).name("name"), Answers.origin(ctx, issuer))));
        router.get("/api/v1/volumes/:id/snapshots").handler(ctx -> Answers.ok(ctx, 200,
                new JsonArray(resources.volume(ctx.pathParam("id")).getSnapshots().stream().map(Views::snapshot).toList())));
        router.delete("/api/v1/volumes/:id/snapshots/:snapshotId").handler(ctx -> Answers.accepted(ctx,
                snapshots.deleteSnapshot(ctx.pathParam("id"), ctx.pathParam("snapshotId"), Answers.origin(ctx, issuer))));
        router.post("/api/v1/volumes/:id/clone").handler(ctx -> Answers.accepted(ctx, snapshots.cloneVolume(ctx.pathParam("id"),
                RequestBody.of(ctx, Set.of("name")).name("name"), Answers.origin(ctx, issuer))));
    }
}
