package io.storagebus.manager.api;

import java.util.EnumSet;
import java.util.Set;

import io.storagebus.leases.LeaseDirectory;
import io.storagebus.manager.requests.Resources;
import io.storagebus.manager.requests.TransferRequests;
import io.storagebus.manager.requests.VolumeRequests;
import io.storagebus.manager.requests.VolumeRequests.Monitoring;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.TransferDirection;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/** Volumes: create, list, read, copy, move (and cancel a move or copy), resize, delete; prepare and tear down on a host; a guest's use monitored. */
record VolumeRoutes(VolumeRequests volumes, Resources resources, LeaseDirectory leases, String issuer) {
    void register(Router router) {
        router.post("/api/v1/domains/:id/volumes").handler(this::create);
        router.get("/api/v1/domains/:id/volumes").handler(this::list);
        router.get("/api/v1/volumes/:id").handler(ctx -> Answers.ok(ctx, 200, json(resources.volume(ctx.pathParam("id")))));
        router.post("/api/v1/volumes/:id/prepare").handler(ctx -> Answers.accepted(ctx, volumes.prepare(ctx.pathParam("id"),
                RequestBody.of(ctx, Set.of("hostId")).requiredString("hostId"), Answers.origin(ctx, issuer))));
        router.post("/api/v1/volumes/:id/teardown").handler(ctx -> Answers.accepted(ctx, volumes.teardown(ctx.pathParam("id"),
                RequestBody.of(ctx, Set.of("hostId")).optionalString("hostId", null), Answers.origin(ctx, issuer))));
        router.post("/api/v1/volumes/:id/copy").handler(this::copy);
        router.post("/api/v1/volumes/:id/move").handler(this::move);
        router.post("/api/v1/volumes/:id/resize").handler(ctx -> Answers.accepted(ctx, volumes.resize(ctx.pathParam("id"),
                RequestBody.of(ctx, Set.of("virtualSize")).requiredLong("virtualSize"), Answers.origin(ctx, issuer))));
        router.delete("/api/v1/volumes/:id").handler(ctx -> Answers.accepted(ctx, volumes.delete(ctx.pathParam("id"),
                "true".equals(ctx.request().getParam("wipe")), "true".equals(ctx.request().getParam("purge")), Answers.origin(ctx, issuer))));
        router.delete("/api/v1/tasks/:id").handler(ctx -> volumes.cancelTask(ctx.pathParam("id"), Answers.origin(ctx, issuer))
                .onSuccess(s -> Answers.ok(ctx, 202, new JsonObject().put("taskId", s.taskId()).put("volumeId", s.volumeId())
                        .put("status", "CANCELLING")))
                .onFailure(ctx::fail));
        router.post("/api/v1/volumes/:id/monitor").handler(this::monitor);
        router.delete("/api/v1/volumes/:id/monitor").handler(ctx -> monitoring(ctx, volumes.unmonitor(ctx.pathParam("id"),
                Answers.origin(ctx, issuer))));
    }

    /** Live when the volume is prepared on a host; {@code mirrorBandwidth} (bytes/s) limits the guest's mirror. */
    private void move(RoutingContext ctx) {
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "mirrorBandwidth"));
        Answers.accepted(ctx, volumes.move(ctx.pathParam("id"), body.requiredString("targetDomainId"),
                body.optionalLong("mirrorBandwidth", 0, 0), Answers.origin(ctx, issuer)));
    }

    private void create(RoutingContext ctx) {
        resources.domain(ctx.pathParam("id"));
        RequestBody body = RequestBody.of(ctx, Set.of("name", "virtualSize", "format", "allocation", "initialSize", "source"));
        VolumeRequests.Create request = new VolumeRequests.Create(ctx.pathParam("id"), body.name("name"), body.requiredLong("virtualSize"),
                body.optionalEnum("format", VolumeFormat.class, VolumeFormat.QCOW2, EnumSet.of(VolumeFormat.RAW, VolumeFormat.QCOW2)),
                body.optionalEnum("allocation", Allocation.class, Allocation.THIN, EnumSet.of(Allocation.THIN, Allocation.PREALLOCATED)),
                body.has("initialSize") ? body.requiredLong("initialSize") : null);
        String key = ctx.request().getHeader("Idempotency-Key");
        if (key != null && !VolumeRequests.IDEMPOTENCY_KEY.matcher(key).matches()) {
            throw ApiError.badField("Idempotency-Key", "INVALID_VALUE", "an Idempotency-Key header is 1 to 128 of A-Z a-z 0-9 . _ : -");
        }
        // "source": {"upload": {...}}: the volume is made for an image the client uploads into it.
        TransferRequests.Transfer upload = body.has("source") ? TransferRoutes.transfer(body.object("source", Set.of("upload"))
                .object("upload", TransferRoutes.FIELDS), TransferDirection.UPLOAD, request.format()) : null;
        Answers.accepted(ctx, volumes.create(request, upload, key, Answers.origin(ctx, issuer)));
    }

    private void copy(RoutingContext ctx) {
        RequestBody body = RequestBody.of(ctx, Set.of("targetDomainId", "name"));
        Answers.accepted(ctx, volumes.copy(ctx.pathParam("id"), body.requiredString("targetDomainId"), body.name("name"),
                Answers.origin(ctx, issuer)));
    }

    private void list(RoutingContext ctx) {
        DomainState domain = resources.domain(ctx.pathParam("id"));
        Answers.page(ctx, (cursor, limit) -> resources.view().volumesOf(domain.getId(), cursor, limit), this::json);
    }

    /** 202: the host answers with CommandFailed on the event stream if it cannot reach QEMU or find the node. */
    private void monitor(RoutingContext ctx) {
        RequestBody body = RequestBody.of(ctx, Set.of("qmpSocket", "nodeName", "drive"));
        VolumeRequests.Monitor request = new VolumeRequests.Monitor(ctx.pathParam("id"), body.requiredString("qmpSocket"),
                body.requiredString("nodeName"), body.optionalString("drive", null));
        monitoring(ctx, volumes.monitor(request, Answers.origin(ctx, issuer)));
    }

    private static void monitoring(RoutingContext ctx, io.vertx.core.Future<Monitoring> told) {
        told.onSuccess(m -> {
            JsonObject answer = new JsonObject().put("volumeId", m.volumeId()).put("hostId", m.hostId()).put("monitored", m.monitored());
            if (m.monitored()) {
                answer.put("qmpSocket", m.qmpSocket()).put("nodeName", m.nodeName()).put("drive", m.drive());
            }
            Answers.ok(ctx, 202, answer);
        }).onFailure(ctx::fail);
    }

    /** A volume as stored, plus who uses it now (its lease, from ZooKeeper). */
    private JsonObject json(VolumeState v) {
        JsonObject json = Views.volume(v);
        leases.leaseOf(v.getId()).ifPresent(lease -> json.put("lease", ClusterRoutes.leaseJson(lease)));
        return json;
    }
}
