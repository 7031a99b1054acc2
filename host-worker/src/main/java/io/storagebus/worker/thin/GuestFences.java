package io.storagebus.worker.thin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
import java.util.stream.Stream;

import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.leases.VolumeLease;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.GuestStopped;
import io.storagebus.worker.WorkerConfig;
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

    /** A QEMU stopped by a fence: when, whether it ran before, and for which volumes' leases. */
    private static final class Fenced {
        final long stoppedAt = System.currentTimeMillis();
        final Set<String> volumeIds = new HashSet<>();
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
     * Stops the QEMU whose volumes' leases are in doubt or lost ({@code volumes} of it, with their
     * leases); completes when it is stopped or killed. A QEMU already stopped by a fence only adds
     * the volumes.
     */
    Future<Void> stop(Vertx vertx, QemuConnection qemu, Path socket, List<WatchedVolume> volumes, Map<String, VolumeLease> leases,
            String reason) {
        Fenced already = fenced.get(socket);
        if (already != null) {
            volumes.forEach(w -> already.volumeIds.add(w.volumeId));
            return already.done; // a second caller (the lease now lost) waits for the same stop
        }
        Fenced f = new Fenced();
        volumes.forEach(w -> f.volumeIds.add(w.volumeId));
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
            Optional<ProcessHandle> process = processNaming(socket);
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
     * The leases of these volumes proved never lost: a QEMU stopped for them alone, and running
     * before, runs again.
     */
    Future<Void> release(QemuConnection qemu, Path socket, Set<String> confirmed, List<WatchedVolume> volumes) {
        Fenced f = fenced.get(socket);
        if (f == null) {
            return Future.succeededFuture();
        }
        f.volumeIds.removeAll(confirmed);
        if (!f.volumeIds.isEmpty()) {
            return Future.succeededFuture();
        }
        fenced.remove(socket);
        if (!f.wasRunning || f.killed || f.gone || qemu == null) {
            return Future.succeededFuture();
        }
        return qemu.client().compose(c -> c.execute("cont")).<Void>mapEmpty().onSuccess(v -> {
            long pausedMillis = System.currentTimeMillis() - f.stoppedAt;
            for (WatchedVolume w : volumes) {
                LOG.info("host {}: guest using volume {} resumed: its lease held after {} ms in doubt", config.hostId(), w.volumeId, pausedMillis);
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

    /** The QEMU serving the QMP socket: the process whose command line names it (QMP does not say its pid). */
    static Optional<ProcessHandle> processNaming(Path socket) {
        String path = socket.toAbsolutePath().toString();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .filter(p -> commandLine(p).stream().anyMatch(arg -> arg.contains(path)))
                    .map(p -> ProcessHandle.of(Long.parseLong(p.getFileName().toString())))
                    .flatMap(Optional::stream).filter(h -> h.pid() != ProcessHandle.current().pid()).findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static List<String> commandLine(Path proc) {
        try {
            return List.of(new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8).split("\0"));
        } catch (IOException | RuntimeException e) {
            return List.of(); // gone meanwhile, or not ours to read
        }
    }
}
