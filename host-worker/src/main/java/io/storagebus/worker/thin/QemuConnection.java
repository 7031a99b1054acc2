package io.storagebus.worker.thin;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
    /** What a cancelled job fails with. */
    static final String CANCELLED = "cancelled";
    /** Block jobs started here and not ended yet, by job id. */
    private final Map<String, Promise<Long>> jobs = new HashMap<>();
    /** Mirror jobs not ready yet, by job id: completed when QEMU says the job is ready. */
    private final Map<String, Promise<Void>> readyJobs = new HashMap<>();
    /** Jobs whose connection was lost before they ended: cancelled once QEMU is reached again. */
    private final Set<String> abandoned = new HashSet<>();

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

    /** Starts a block job and completes, with the bytes it copied, when QEMU says it ended. */
    Future<Long> runJob(QmpClient c, String jobId, String command, JsonObject args) {
        Promise<Long> ended = Promise.promise();
        jobs.put(jobId, ended);
        return c.execute(command, args)
                .onFailure(e -> jobs.remove(jobId))
                .compose(started -> ended.future());
    }

    /**
     * Starts a mirror job and completes it ({@code job-complete}: the guest's device pivots to
     * the target) as soon as QEMU says it is ready, that is, the target holds everything the
     * source does and each new write goes to both. Ends, with the bytes copied, when QEMU says
     * the job ended; fails if it ended with an error or was cancelled, the guest still on the source.
     */
    Future<Long> runMirror(QmpClient c, String jobId, JsonObject args) {
        Promise<Void> ready = Promise.promise();
        readyJobs.put(jobId, ready);
        // A job that ends before it is ready (failed, cancelled) fails the ready promise: nothing to complete then.
        ready.future().onSuccess(v -> c.execute("job-complete", new JsonObject().put("id", jobId)).onFailure(e -> {
            LOG.warn("host {}: cannot complete mirror {} on {}: {}; cancelling it", hostId, jobId, socket, e.getMessage());
            cancelJob(jobId);
        }));
        return runJob(c, jobId, "blockdev-mirror", args).onComplete(ar -> readyJobs.remove(jobId));
    }

    /** Cancels a job at once, whatever it did; a mirror leaves the guest on its source. False if no such job runs here. */
    Future<Boolean> cancelJob(String jobId) {
        if (!jobs.containsKey(jobId)) {
            return Future.succeededFuture(false);
        }
        return client().compose(c -> c.execute("block-job-cancel", new JsonObject().put("device", jobId).put("force", true))).map(r -> true);
    }

    private void jobEnded(String jobId, String error, long offset) {
        Promise<Long> job = jobs.remove(jobId);
        Promise<Void> ready = readyJobs.remove(jobId);
        if (ready != null) {
            ready.tryFail("the job ended before it was ready");
        }
        if (job != null) {
            if (error == null) {
                job.complete(offset);
            } else {
                job.fail(new QmpException(CANCELLED.equals(error) ? CANCELLED : "BlockJobFailed", "block job " + jobId + " failed: " + error));
            }
        }
    }

    @Override
    public void event(String name, JsonObject data, long timestampMicros) {
        switch (name) {
            case "BLOCK_WRITE_THRESHOLD" -> owner.thresholdCrossed(this, data);
            case "BLOCK_IO_ERROR" -> owner.ioError(this, data);
            case "BLOCK_JOB_COMPLETED" -> jobEnded(data.getString("device"), data.getString("error"), data.getLong("offset", 0L));
            case "BLOCK_JOB_CANCELLED" -> jobEnded(data.getString("device"), CANCELLED, data.getLong("offset", 0L));
            case "BLOCK_JOB_ERROR" -> jobEnded(data.getString("device"), "I/O error (" + data.getString("operation") + ")", 0);
            case "BLOCK_JOB_READY" -> {
                Promise<Void> ready = readyJobs.remove(data.getString("device"));
                if (ready != null) {
                    ready.tryComplete();
                }
            }
            case "RESUME" -> owner.resumed(this);
            default -> { }
        }
    }

    @Override
    public void closed(QmpClient closed, Throwable cause) {
        abandonJobs(cause);
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
            client().onSuccess(c -> {
                cancelAbandoned(c);
                owner.reconnected(this);
            }).onFailure(e -> scheduleReconnect());
        });
    }

    /**
     * The connection is gone, and with it every job's end event: its jobs fail now (QEMU exited,
     * most likely; a mirror never pivoted, the guest was on the source). If QEMU still runs,
     * they are cancelled when it is reached again, so no mirror lingers onto a target given up.
     */
    private void abandonJobs(Throwable cause) {
        for (String jobId : List.copyOf(jobs.keySet())) {
            abandoned.add(jobId);
            readyJobs.remove(jobId);
            jobs.remove(jobId).tryFail(new QmpException("ConnectionLost", "QMP connection to " + socket + " lost during block job "
                    + jobId + ": " + cause.getMessage()));
        }
    }

    private void cancelAbandoned(QmpClient c) {
        for (String jobId : List.copyOf(abandoned)) {
            abandoned.remove(jobId);
            c.execute("block-job-cancel", new JsonObject().put("device", jobId).put("force", true))
                    .onSuccess(r -> LOG.warn("host {}: cancelled block job {} on {}, abandoned when the connection was lost", hostId, jobId, socket));
        }
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
