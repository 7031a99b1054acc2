package io.storagebus.worker.thin;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import io.storagebus.worker.qmp.QmpClient;
import io.storagebus.worker.qmp.QmpException;
import io.storagebus.worker.qmp.QmpListener;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The QMP connection to one QEMU, shared by the volumes it uses: connected on first use, and
 * connected again a second after it is lost for as long as the {@link Owner} still wants it.
 * Hands QEMU's events to the owner, and ends the block jobs started through it.
 */
final class QemuConnection implements QmpListener {
    private static final Logger LOG = LoggerFactory.getLogger(QemuConnection.class);
    private static final long RECONNECT_MS = 1000;

    /** What the monitor does about one QEMU; called on the monitor's context. */
    interface Owner {
        void thresholdCrossed(QemuConnection qemu, JsonObject data);

        void ioError(QemuConnection qemu, JsonObject data);

        /** The guest runs again. */
        void resumed(QemuConnection qemu);

        /** Whether the connection is still needed (a volume of this QEMU is watched, the monitor runs). */
        boolean wanted(QemuConnection qemu);

        /** Connected again after a loss: a restarted QEMU has no thresholds. */
        void reconnected(QemuConnection qemu);

        /** Lost and not wanted any more. */
        void dropped(QemuConnection qemu);
    }

    final Path socket;
    private final Vertx vertx;
    private final String hostId;
    private final Owner owner;
    private Future<QmpClient> client;
    private long reconnectTimer = -1;
    /** Block jobs started here and not ended yet, by job id. */
    private final Map<String, Promise<Void>> jobs = new HashMap<>();

    QemuConnection(Path socket, Vertx vertx, String hostId, Owner owner) {
        this.socket = socket;
        this.vertx = vertx;
        this.hostId = hostId;
        this.owner = owner;
    }

    Future<QmpClient> client() {
        if (client == null || client.failed() || (client.succeeded() && !client.result().isOpen())) {
            client = QmpClient.connect(vertx, socket, this);
        }
        return client;
    }

    /** Starts a block job and completes when QEMU says it ended. */
    Future<Void> runJob(QmpClient c, String jobId, String command, JsonObject args) {
        Promise<Void> ended = Promise.promise();
        jobs.put(jobId, ended);
        return c.execute(command, args)
                .onFailure(e -> jobs.remove(jobId))
                .compose(started -> ended.future());
    }

    private void jobEnded(String jobId, String error) {
        Promise<Void> job = jobs.remove(jobId);
        if (job != null) {
            if (error == null) {
                job.complete();
            } else {
                job.fail(new QmpException("BlockJobFailed", "block job " + jobId + " failed: " + error));
            }
        }
    }

    @Override
    public void event(String name, JsonObject data, long timestampMicros) {
        switch (name) {
            case "BLOCK_WRITE_THRESHOLD" -> owner.thresholdCrossed(this, data);
            case "BLOCK_IO_ERROR" -> owner.ioError(this, data);
            case "BLOCK_JOB_COMPLETED" -> jobEnded(data.getString("device"), data.getString("error"));
            case "BLOCK_JOB_ERROR" -> jobEnded(data.getString("device"), "I/O error (" + data.getString("operation") + ")");
            case "RESUME" -> owner.resumed(this);
            default -> { }
        }
    }

    @Override
    public void closed(QmpClient closed, Throwable cause) {
        if (!owner.wanted(this)) {
            owner.dropped(this);
            return;
        }
        LOG.warn("host {}: QMP connection to {} lost ({}); reconnecting", hostId, socket, cause.getMessage());
        scheduleReconnect();
    }

    void scheduleReconnect() {
        if (reconnectTimer >= 0) {
            return;
        }
        reconnectTimer = vertx.setTimer(RECONNECT_MS, t -> {
            reconnectTimer = -1;
            if (!owner.wanted(this)) {
                return;
            }
            client().onSuccess(c -> owner.reconnected(this)).onFailure(e -> scheduleReconnect());
        });
    }

    /** No volume of this QEMU is watched any more. */
    void close() {
        if (reconnectTimer >= 0) {
            vertx.cancelTimer(reconnectTimer);
        }
        if (client != null && client.succeeded()) {
            client.result().close();
        }
    }
}
