package io.storagebus.worker.watchdog;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.storagebus.leases.VolumeLease;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.lifecycle.Lifecycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's side of the {@link LeaseWatchdog}: for every guest it watches on a leased volume it
 * renews the guest's deadline while it can prove the lease (connected to ZooKeeper, the session not
 * in doubt), and it checks that the watchdog is alive, telling its {@link Listener} when the
 * watchdog goes (the guests must then stop: nothing would stop them if this worker froze) and comes
 * back.
 *
 * <p>Each renewal first asks ZooKeeper something; only when it answers is the deadline set, half a
 * session timeout after the question was asked. Why that is safe: the answer proves the server
 * heard the session after that moment, and ZooKeeper expires a session no sooner than a session
 * timeout after it last heard it, so the guest's deadline comes at least half a session timeout
 * before the lease can end for anyone else, whether the worker then freezes, dies, or loses its
 * network. Questions go every twelfth of the timeout and are not timed out: a late answer (a
 * loaded server) still renews from when it was asked, and deadlines only move forward.
 */
public final class WatchdogFeed implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WatchdogFeed.class);

    /** Told on this feed's thread. */
    public interface Listener {
        void watchdogDown(String reason);

        void watchdogUp();
    }

    private record Guarded(Path qmpSocket, Optional<ProcessHandle> qemu) {
    }

    private final Path dir;
    private final Duration sessionTimeout;
    private final Duration renewEvery;
    private final VolumeLeases leases;
    private final Lifecycle lifecycle = new Lifecycle("watchdog feed");
    private final Map<String, Guarded> guarded = new ConcurrentHashMap<>();
    private ScheduledExecutorService timer;
    private Listener listener;
    private boolean down;
    /** The latest deadline written (on the timer's thread only): an answer to an older question never moves it back. */
    private long renewedTo;

    /**
     * The guard this host's leases promise the next holder (see {@code LeaseTakeover}): how long
     * after ZooKeeper last heard its session its guests may still write. With a watchdog, the
     * deadline (half the session timeout after the question that was answered) and one watchdog
     * tick; a frozen or dead worker is covered. Without one, the worker's own fence: the client
     * sees the session in doubt after two thirds of the timeout without an answer, then stops its
     * guests within {@code guestStop} or kills them (a second more for the kill); only a running
     * worker keeps that promise, which OPERATIONS.md says.
     */
    public static Duration guard(Duration sessionTimeout, boolean watchdog, Duration guestStop) {
        return watchdog ? sessionTimeout.dividedBy(2).plus(LeaseWatchdog.TICK)
                : sessionTimeout.multipliedBy(2).dividedBy(3).plus(guestStop).plusSeconds(1);
    }

    /** @param dir the directory shared with the watchdog; null: no watchdog, nothing is written */
    public WatchdogFeed(Path dir, Duration sessionTimeout, VolumeLeases leases) {
        this.dir = dir;
        this.sessionTimeout = sessionTimeout;
        this.renewEvery = Duration.ofMillis(Math.max(50, sessionTimeout.toMillis() / 12));
        this.leases = leases;
    }

    public void start(Listener listener) throws IOException {
        lifecycle.start();
        this.listener = listener;
        if (dir == null) {
            return;
        }
        Files.createDirectories(dir);
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "watchdog-feed");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::tick, renewEvery.toMillis(), renewEvery.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info("renewing guests' leases for the watchdog in {} every {} ms", dir, renewEvery.toMillis());
    }

    /** A guest (the QEMU on {@code qmpSocket}) writes to the volume here: renew it while its lease is proven. */
    public void guard(String volumeId, Path qmpSocket) {
        if (dir != null) {
            guarded.put(volumeId, new Guarded(qmpSocket, Optional.empty()));
        }
    }

    /** The guest no longer uses the volume here (teardown, unwatch): its renewal is withdrawn. */
    public void release(String volumeId) {
        if (dir != null && guarded.remove(volumeId) != null) {
            try {
                Files.deleteIfExists(dir.resolve(volumeId + LeaseRenewal.SUFFIX));
            } catch (IOException e) {
                LOG.error("cannot withdraw the watchdog's renewal of volume {}: {}", volumeId, e.toString());
            }
        }
    }

    private void tick() {
        try {
            checkWatchdog();
            if (guarded.isEmpty()) {
                return;
            }
            // Unanswered, the deadlines run out: the watchdog freezes the guests unless the session proves itself in time.
            long deadline = System.currentTimeMillis() + sessionTimeout.toMillis() / 2;
            leases.whenSessionHeard(() -> {
                try {
                    timer.execute(() -> renew(deadline));
                } catch (RejectedExecutionException closed) {
                    // the feed is closed: nothing renews any more
                }
            });
        } catch (RuntimeException e) {
            LOG.error("cannot renew the guests' leases for the watchdog in {}: {}", dir, e.toString());
        }
    }

    /** The session was heard after {@code deadline} minus half a timeout: every guest on a lease held here is renewed to it. */
    private void renew(long deadline) {
        if (deadline <= renewedTo) {
            return;
        }
        renewedTo = deadline;
        try {
            for (Map.Entry<String, Guarded> e : guarded.entrySet()) {
                Optional<VolumeLease> lease = leases.heldLease(e.getKey());
                Guarded g = e.getValue();
                if (lease.isEmpty()) {
                    continue;
                }
                Optional<ProcessHandle> qemu = g.qemu().filter(ProcessHandle::isAlive).or(() -> GuestProcess.serving(g.qmpSocket()));
                if (qemu.isEmpty()) {
                    continue; // no QEMU runs on the socket: nothing to guard
                }
                guarded.replace(e.getKey(), g, new Guarded(g.qmpSocket(), qemu));
                new LeaseRenewal(e.getKey(), lease.get().epoch(), qemu.get().pid(), g.qmpSocket().toString(), deadline).writeTo(dir);
            }
        } catch (IOException | RuntimeException e) {
            LOG.error("cannot renew the guests' leases for the watchdog in {}: {}", dir, e.toString());
        }
    }

    /** The watchdog says it is alive every 100 ms; a second of silence means it is gone or frozen. */
    private void checkWatchdog() {
        Path alive = dir.resolve(LeaseWatchdog.ALIVE_FILE);
        String problem = null;
        try {
            String[] said = Files.readString(alive, StandardCharsets.UTF_8).trim().split(" ");
            long age = System.currentTimeMillis() - Long.parseLong(said[1]);
            if (age > 1000 || !ProcessHandle.of(Long.parseLong(said[0])).map(ProcessHandle::isAlive).orElse(false)) {
                problem = "the lease watchdog (pid " + said[0] + ") has not been heard from for " + age + " ms";
            }
        } catch (IOException | RuntimeException e) {
            problem = "the lease watchdog is not running (" + alive + ": " + e.getMessage() + ")";
        }
        if (problem != null && !down) {
            down = true;
            LOG.error("{}: guests on leased volumes stop until it is back", problem);
            listener.watchdogDown(problem);
        } else if (problem == null && down) {
            down = false;
            LOG.info("the lease watchdog is back");
            listener.watchdogUp();
        }
    }

    @Override
    public void close() {
        if (lifecycle.close() && timer != null) {
            timer.shutdownNow();
        }
    }
}
