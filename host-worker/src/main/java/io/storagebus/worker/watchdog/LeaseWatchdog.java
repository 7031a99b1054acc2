package io.storagebus.worker.watchdog;

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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.storagebus.driver.support.VolumeFiles;
import io.storagebus.lifecycle.Lifecycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's lease watchdog: a process of its own, so that a frozen or dead worker cannot leave
 * a guest writing under a lease it no longer proves. The worker renews, in a directory they share,
 * each watched guest's deadline ({@link LeaseRenewal}); every {@link #TICK} the watchdog looks:
 * a guest past its deadline is frozen at once ({@code SIGSTOP}: no new write leaves it), thawed
 * ({@code SIGCONT}) if the worker renews it again, and killed once the deadline is a session
 * timeout behind, when the lease has surely expired and may be someone else's. A guest it froze
 * whose renewal file disappears is killed too: nobody vouches for it any more.
 *
 * <p>It says it is alive in {@code watchdog.alive} every tick; a worker that finds that stale
 * stops its guests itself until the watchdog is back (restarted by the service manager). A host
 * frozen whole is left to the hardware watchdog: see docs/OPERATIONS.md.
 */
public final class LeaseWatchdog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseWatchdog.class);
    static final Duration TICK = Duration.ofMillis(100);
    public static final String ALIVE_FILE = "watchdog.alive";

    /** A guest this watchdog froze. */
    private record Frozen(LeaseRenewal renewal, long frozenAt) {
    }

    private final Path dir;
    private final Duration killAfter;
    private final Lifecycle lifecycle = new Lifecycle("lease watchdog");
    private final Map<String, Frozen> frozen = new HashMap<>();
    private final Set<String> malformed = new HashSet<>();
    private ScheduledExecutorService timer;

    /** @param killAfter how long after a missed deadline the lease has surely expired: the worker's ZooKeeper session timeout */
    public LeaseWatchdog(Path dir, Duration killAfter) {
        this.dir = dir;
        this.killAfter = killAfter;
    }

    public LeaseWatchdog start() throws IOException {
        lifecycle.start();
        Files.createDirectories(dir);
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "lease-watchdog");
            t.setDaemon(false);
            return t;
        });
        timer.scheduleWithFixedDelay(this::tick, 0, TICK.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info("lease watchdog watching {} (kill after {} ms past a deadline)", dir, killAfter.toMillis());
        return this;
    }

    private void tick() {
        try {
            long now = System.currentTimeMillis();
            Files.writeString(dir.resolve(ALIVE_FILE + ".tmp"), ProcessHandle.current().pid() + " " + now + "\n");
            VolumeFiles.move(dir.resolve(ALIVE_FILE + ".tmp"), dir.resolve(ALIVE_FILE));
            Map<String, LeaseRenewal> renewals = readRenewals();
            renewals.values().forEach(r -> check(r, now));
            for (String volumeId : List.copyOf(frozen.keySet())) {
                if (!renewals.containsKey(volumeId)) {
                    Frozen f = frozen.remove(volumeId);
                    kill(f.renewal(), "its renewal was withdrawn while it was frozen");
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.error("lease watchdog: cannot look at {}: {}", dir, e.toString());
        }
    }

    private void check(LeaseRenewal r, long now) {
        Frozen f = frozen.get(r.volumeId());
        if (now <= r.deadlineMillis()) {
            if (f != null && r.pid() == f.renewal().pid()) {
                frozen.remove(r.volumeId());
                signal(r, "CONT");
                LOG.warn("lease watchdog: volume {} renewed again: QEMU {} thawed after {} ms", r.volumeId(), r.pid(), now - f.frozenAt());
            }
            return;
        }
        if (f == null) {
            if (guest(r).isPresent()) {
                signal(r, "STOP");
                frozen.put(r.volumeId(), new Frozen(r, now));
                LOG.error("lease watchdog: volume {} (lease epoch {}) not renewed for {} ms past its deadline: QEMU {} frozen", r.volumeId(),
                        r.leaseEpoch(), now - r.deadlineMillis(), r.pid());
            }
        } else if (now > r.deadlineMillis() + killAfter.toMillis()) {
            frozen.remove(r.volumeId());
            kill(r, "its lease has expired (" + (now - r.deadlineMillis()) + " ms past the deadline)");
        }
    }

    private Map<String, LeaseRenewal> readRenewals() throws IOException {
        Map<String, LeaseRenewal> renewals = new HashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.filter(f -> f.getFileName().toString().endsWith(LeaseRenewal.SUFFIX)).toList()) {
                try {
                    LeaseRenewal r = LeaseRenewal.parse(Files.readString(file, StandardCharsets.UTF_8));
                    renewals.put(r.volumeId(), r);
                    malformed.remove(file.getFileName().toString());
                } catch (IllegalArgumentException e) {
                    if (malformed.add(file.getFileName().toString())) {
                        LOG.error("lease watchdog: {} cannot be read ({}): ignored until it is rewritten", file, e.getMessage());
                    }
                } catch (java.nio.file.NoSuchFileException gone) {
                    // withdrawn meanwhile
                }
            }
        }
        return renewals;
    }

    /** The QEMU of the renewal, if that pid still runs it: a pid reused by another process is never signalled. */
    private static Optional<ProcessHandle> guest(LeaseRenewal r) {
        try {
            String cmdline = new String(Files.readAllBytes(Path.of("/proc", Long.toString(r.pid()), "cmdline")), StandardCharsets.UTF_8);
            return cmdline.contains(r.qmpSocket()) ? ProcessHandle.of(r.pid()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static void signal(LeaseRenewal r, String signal) {
        if (guest(r).isEmpty()) {
            return;
        }
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(r.pid())).redirectErrorStream(true).start();
            if (!kill.waitFor(5, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                LOG.error("lease watchdog: kill -{} {} failed: {}", signal, r.pid(), new String(kill.getInputStream().readAllBytes()));
            }
        } catch (IOException e) {
            LOG.error("lease watchdog: cannot send {} to {}: {}", signal, r.pid(), e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void kill(LeaseRenewal r, String why) {
        guest(r).ifPresent(qemu -> {
            LOG.error("lease watchdog: volume {}: QEMU {} killed: {}", r.volumeId(), r.pid(), why);
            qemu.destroyForcibly();
        });
    }

    @Override
    public void close() {
        if (lifecycle.close() && timer != null) {
            timer.shutdownNow();
        }
    }
}
