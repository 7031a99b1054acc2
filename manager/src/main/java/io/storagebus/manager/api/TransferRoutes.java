package io.storagebus.manager.api;

import java.util.EnumSet;
import java.util.Set;

import io.storagebus.manager.requests.TransferRequests;
import io.storagebus.manager.requests.TransferRequests.Transfer;
import io.storagebus.manager.requests.VolumeRequests;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TransferDirection;
import io.storagebus.schema.TransferInfo;
import io.storagebus.schema.VolumeFormat;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

/** Images in and out of volumes: start a transfer, read it (with its URL: operators only), cancel it. */
record TransferRoutes(TransferRequests transfers, VolumeRequests volumes, String issuer) {
    /** The fields of a transfer request, and of a create's {@code source.upload}. */
    static final Set<String> FIELDS = Set.of("direction", "format", "inactivityTimeout");

    void register(Router router) {
        router.post("/api/v1/volumes/:id/transfers").handler(ctx -> {
            RequestBody body = RequestBody.of(ctx, FIELDS);
            TransferDirection direction = body.optionalEnum("direction", TransferDirection.class, null,
                    EnumSet.of(TransferDirection.UPLOAD, TransferDirection.DOWNLOAD));
            if (direction == null) {
                throw ApiError.badField("direction", "MISSING_FIELD", "direction is required: upload or download");
            }
            Answers.accepted(ctx, transfers.start(ctx.pathParam("id"), transfer(body, direction, null), Answers.origin(ctx, issuer)));
        });
        router.get("/api/v1/transfers/:id").handler(ctx -> Answers.ok(ctx, 200, json(transfers.transfer(ctx.pathParam("id")))));
        router.delete("/api/v1/transfers/:id").handler(ctx -> {
            TaskState transfer = transfers.transfer(ctx.pathParam("id"));
            volumes.cancelTask(transfer.getId(), Answers.origin(ctx, issuer))
                    .onSuccess(s -> Answers.ok(ctx, 202, new JsonObject().put("transferId", s.taskId()).put("volumeId", s.volumeId())
                            .put("status", "CANCELLING")))
                    .onFailure(ctx::fail);
        });
    }

    /** A transfer as the body asks for it; {@code format} absent: {@code defaultFormat} (null: the volume's). */
    static Transfer transfer(RequestBody body, TransferDirection direction, VolumeFormat defaultFormat) {
        return new Transfer(direction,
                body.optionalEnum("format", VolumeFormat.class, defaultFormat, EnumSet.of(VolumeFormat.RAW, VolumeFormat.QCOW2)),
                body.optionalInt("inactivityTimeout", Transfer.DEFAULT_INACTIVITY_TIMEOUT, 5, Transfer.MAX_INACTIVITY_TIMEOUT));
    }

    /** A transfer's task with its URL, which carries the transfer's ticket. */
    static JsonObject json(TaskState t) {
        JsonObject json = Views.task(t);
        TransferInfo transfer = t.getTransfer();
        json.put("transferId", t.getId());
        if (transfer.getUrl() != null) {
            json.getJsonObject("transfer").put("url", transfer.getUrl());
        }
        return json;
    }
}
