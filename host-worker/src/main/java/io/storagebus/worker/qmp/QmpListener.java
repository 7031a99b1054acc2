package io.storagebus.worker.qmp;

import io.vertx.core.json.JsonObject;

/** What a QMP connection reports, on its Vert.x context. */
public interface QmpListener {
    /** An asynchronous QEMU event such as {@code BLOCK_WRITE_THRESHOLD}. */
    void event(String name, JsonObject data, long timestampMicros);

    /** The connection is gone (QEMU exited, the socket closed); pending commands failed. */
    void closed(QmpClient client, Throwable cause);
}
