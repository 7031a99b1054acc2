package io.storagebus.worker.thin;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.leases.VolumeLease;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.GuestStopped;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.watchdog.GuestProcess;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Guests stopped because the host can no longer prove the lease of a volume they write to. A
 * lease is an ephemeral node of the host's ZooKeeper session; once the session may be ending
 * (ZooKeeper unreachable) another host may be granted the volume when it expires, so the guest
 * must not write past that point: QMP {@code stop} at once, and its QEMU killed if it does not
 * answer within {@code stopTimeout}. A guest stopped only while the lease was in doubt runs again
 * when the session proves to have survived; one whose lease was lost stays stopped.
 */
final class GuestFences {
    private static final Logger LOG = LoggerFactory.getLogger(GuestFences.class);

    /** A QEMU stopped by a fence: when, whether it ran before, and what holds it (volumes' leases in doubt, the watchdog gone). */
    private static final class Fenced {
        final long stoppedAt = System.currentTimeMillis();
        final Set<String> holds = new HashSet<>();
        boolean wasRunning;
        boolean killed;
        boolean gone;
        Future<Void> done;
    }

    private final WorkerConfig config;
    private final Consumer<ProducerRecord<String, byte[]>> publish;
    private final Duration stopTimeout;
    private final Map<Path, Fenced> fenced = new HashMap<>();

    GuestFences(WorkerConfig config, Consumer<ProducerRecord<String, byte[]>> publish, Duration stopTimeout) {
        this.config = config;
        this.publish = publish;
        this.stopTimeout = stopTimeout;
    }

    /** Whether a fence holds the QEMU stopped: nothing else (an extend's resume) may let it run. */
    boolean holds(Path socket) {
        return fenced.containsKey(socket);
    }

    /**
     * Stops the QEMU using {@code volumes} (with their leases, for the event), held stopped by
     * {@code holds} (the volumes whose leases are in doubt or lost, or the watchdog's absence);
     * completes when it is stopped or killed. A QEMU already stopped by a fence only adds the holds.
     */
    Future<Void> stop(Vertx vertx, QemuConnection qemu, Path socket, List<WatchedVolume> volumes, Set<String> holds,
            Map<String, VolumeLease> leases, String reason) {
        Fenced already = fenced.get(socket);
        if (already != null) {
            already.holds.addAll(holds);
            return already.done; // a second caller (the lease now lost) waits for the same stop
        }
        Fenced f = new Fenced();
        f.holds.addAll(holds);
        fenced.put(socket, f);
        long started = System.nanoTime();
        Future<Void> stopped = qemu == null ? Future.failedFuture("no QMP connection")
                : qemu.client().compose(c -> c.execute("query-status").compose(status -> {
                    f.wasRunning = ((JsonObject) status).getBoolean("running", false);
                    return c.execute("stop");
                })).mapEmpty();
        // The timer fires on this (the monitor's) context, so the fence's state is only ever touched there.
        Promise<Void> answered = Promise.promise();
        long timer = vertx.setTimer(stopTimeout.toMillis(), t -> answered.tryFail("no answer to stop within " + stopTimeout.toMillis() + " ms"));
        stopped.onComplete(ar -> {
            vertx.cancelTimer(timer);
            if (ar.succeeded()) {
                answered.tryComplete();
            } else {
                answered.tryFail(ar.cause());
            }
        });
        f.done = answered.future().recover(e -> {
            Optional<ProcessHandle> process = GuestProcess.serving(socket);
            if (process.isEmpty()) {
                // Nothing answers on the socket and no process names it: that QEMU is not running.
                LOG.info("host {}: QEMU on {} is not running ({}): no guest to stop", config.hostId(), socket, e.getMessage());
                f.gone = true;
            } else {
                LOG.error("host {}: QEMU {} on {} did not stop ({}): killing it", config.hostId(), process.get().pid(), socket, e.getMessage());
                f.killed = process.get().destroyForcibly();
            }
            return Future.succeededFuture();
        }).onSuccess(v -> {
            if (f.gone) {
                return;
            }
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            for (WatchedVolume w : volumes) {
                VolumeLease lease = leases.get(w.volumeId);
                LOG.warn("host {}: guest using volume {} {} in {} ms (QEMU {}): {}", config.hostId(), w.volumeId,
                        f.killed ? "killed" : "stopped", millis, socket, reason);
                publish.accept(Records.of(Topics.EVENTS, w.volumeId, GuestStopped.newBuilder().setEnvelope(w.envelope(config))
                        .setVolumeId(w.volumeId).setDomainId(w.domain.getId()).setHostId(config.hostId())
                        .setLeaseEpoch(lease == null ? 0 : lease.epoch()).setKilled(f.killed).setQmpSocket(socket.toString())
                        .setStopMillis(millis).setReason(reason).build()));
            }
        });
        return f.done;
    }

    /**
     * These holds are gone (leases proven never lost, the watchdog back): a QEMU stopped for them
     * alone, and running before, runs again.
     */
    Future<Void> release(QemuConnection qemu, Path socket, Set<String> released, List<WatchedVolume> volumes) {
        Fenced f = fenced.get(socket);
        if (f == null) {
            return Future.succeededFuture();
        }
        f.holds.removeAll(released);
        if (!f.holds.isEmpty()) {
            return Future.succeededFuture();
        }
        fenced.remove(socket);
        if (!f.wasRunning || f.killed || f.gone || qemu == null) {
            return Future.succeededFuture();
        }
        return qemu.client().compose(c -> c.execute("cont")).<Void>mapEmpty().onSuccess(v -> {
            long pausedMillis = System.currentTimeMillis() - f.stoppedAt;
            for (WatchedVolume w : volumes) {
                LOG.info("host {}: guest using volume {} resumed after {} ms stopped: its lease is proven again", config.hostId(), w.volumeId,
                        pausedMillis);
                publish.accept(Records.of(Topics.EVENTS, w.volumeId, GuestResumed.newBuilder().setEnvelope(w.envelope(config))
                        .setVolumeId(w.volumeId).setDomainId(w.domain.getId()).setHostId(config.hostId()).setPausedMillis(pausedMillis)
                        .setPauseStartKnown(true).build()));
            }
        });
    }

    /** Forgets a QEMU that went away. */
    void forget(Path socket) {
        fenced.remove(socket);
    }
}
