package io.storagebus.worker.thin;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Records;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.bus.Topics;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeUri;
import io.storagebus.leases.VolumeLease;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.VolumeExtended;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.schema.WatermarkReason;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.qmp.QmpException;
import io.storagebus.worker.HostDrivers;
import io.storagebus.worker.qmp.QmpClient;
import io.storagebus.worker.watchdog.WatchdogFeed;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the thin volumes that guests on this host write to from running out. For each watched
 * volume it arms QEMU's write threshold on the node that sits on the volume, where only the
 * {@link ExtendPolicy#headroom headroom} is left; when QEMU says the threshold was crossed, or a
 * write failed for lack of space and paused the guest, it reports the highest write offset to
 * the pool's SPM at once. The SPM's answer ({@link RefreshVolume}) makes it refresh the volume,
 * re-arm the threshold and resume a paused guest.
 *
 * <p>Every {@code blockStatsInterval} it also reads {@code wr_highest_offset} of every watched
 * node: the fallback for a threshold that could not be armed, the source of the write rate, and
 * the retry of a report that got no answer (the SPM failed over, say), so no report is lost.
 *
 * <p>Its parts: one {@link QemuConnection} per QEMU, one {@link WatchedVolume} (with its guest's
 * state machine) per watched volume, {@link GuestPauses} for guests that stop on a full volume,
 * {@link LiveLayers} for live snapshots and merges. All state lives on one Vert.x context;
 * driver calls that spawn processes run on workers.
 */
public final class VolumeMonitor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeMonitor.class);
    /**
     * How long a QEMU has to answer {@code stop} before it is killed. ZooKeeper's client calls a
     * session in doubt after two thirds of its timeout without an answer, so a third (2 s of the
     * default 6 s) is left before the lease can expire for others: the stop, or the kill after
     * it, must fit in it.
     */
    public static final Duration GUEST_STOP_TIMEOUT = Duration.ofSeconds(1);

    private final WorkerConfig config;
    private final DriverRegistry drivers;
    private final ExtendPolicy policy;
    private final Consumer<ProducerRecord<String, byte[]>> publish;
    private final Lifecycle lifecycle = new Lifecycle("volume monitor");
    private final Map<String, WatchedVolume> watched = new HashMap<>();
    private final Map<Path, QemuConnection> qemus = new HashMap<>();
    /** Per volume, the last RefreshVolume being applied; touched on the context only. */
    private final Map<String, Future<Void>> refreshing = new HashMap<>();
    /** Live moves' mirror jobs running here, by job id, with the QEMU that runs each. */
    private final Map<String, QemuConnection> mirrors = new HashMap<>();
    private Vertx vertx;
    private Context context;
    private long statsTimer;
    private final LiveLayers layers;
    private final GuestPauses pauses;
    private final GuestFences fences;
    private final WatchdogFeed watchdog;

    /**
     * {@code publish} sends a record to Kafka without blocking (a producer's send); {@code watchdog}
     * renews the watched guests' leases for the host's watchdog.
     */
    public VolumeMonitor(WorkerConfig config, DriverRegistry drivers, Consumer<ProducerRecord<String, byte[]>> publish, WatchdogFeed watchdog) {
        this.config = config;
        this.watchdog = watchdog;
        this.drivers = drivers;
        this.policy = config.extendPolicy();
        this.publish = publish;
        this.pauses = new GuestPauses(config, publish, this::report);
        this.layers = new LiveLayers(config.hostId());
        this.fences = new GuestFences(config, publish, GUEST_STOP_TIMEOUT);
    }

    public void start() {
        lifecycle.start();
        vertx = Vertx.vertx();
        context = vertx.getOrCreateContext();
        context.runOnContext(v -> statsTimer = vertx.setPeriodic(config.blockStatsInterval().toMillis(), t -> readBlockStats()));
    }

    /**
     * Starts watching a prepared volume that a QEMU on this host uses; replaces an earlier watch
     * of the same volume. Fails if QEMU cannot be reached or does not know the node.
     */
    public Future<Void> watch(MonitorVolume cmd) {
        return onContext(() -> blocking(() -> allocation(cmd.getDomain(), cmd.getVolumeId()))
                .compose(allocation -> {
                    WatchedVolume w = new WatchedVolume(cmd, allocation);
                    // A volume that cannot grow is watched for its guest only (pauses, live snapshots), never reported.
                    w.full = !extendable(cmd.getDomain());
                    WatchedVolume previous = watched.put(w.volumeId, w);
                    if (previous != null && !previous.socket.equals(w.socket)) {
                        forgetIfUnused(previous.socket);
                    }
                    QemuConnection qemu = qemus.computeIfAbsent(w.socket, s -> new QemuConnection(s, vertx, config.hostId(), owner));
                    return qemu.client().compose(c -> readHighest(c, List.of(w)).compose(v -> pauses.pausedBefore(c, w))).compose(v -> arm(w));
                })
                .onSuccess(v -> {
                    watchdog.guard(cmd.getVolumeId(), Path.of(cmd.getQmpSocket()));
                    LOG.info("host {}: watching volume {} on {} node {}", config.hostId(), cmd.getVolumeId(), cmd.getQmpSocket(),
                            cmd.getNodeName());
                })
                .onFailure(e -> {
                    WatchedVolume w = watched.get(cmd.getVolumeId());
                    if (w != null && w.socket.toString().equals(cmd.getQmpSocket()) && w.nodeName.equals(cmd.getNodeName())) {
                        watched.remove(cmd.getVolumeId());
                        forgetIfUnused(w.socket);
                    }
                }));
    }

    /** The volumes of the domain a guest uses here, each as {@code volumeId (QEMU <socket>)}, sorted. */
    public Future<List<String>> guestVolumes(String domainId) {
        return onContext(() -> Future.succeededFuture(watched.values().stream().filter(w -> w.domain.getId().equals(domainId))
                .map(w -> w.volumeId + " (QEMU " + w.socket + ")").sorted().toList()));
    }

    /**
     * A snapshot put a new top layer on the volume: the guest using it here writes to that layer
     * from now on (QMP {@code blockdev-snapshot-sync}, mode existing). False when no guest uses the
     * volume here, so there was nothing to switch.
     */
    public Future<Boolean> switchToLayer(String volumeId, String overlay) {
        return onContext(() -> {
            WatchedVolume w = watched.get(volumeId);
            if (w == null) {
                return Future.succeededFuture(false);
            }
            return layers.switchTo(qemus.get(w.socket), w, overlay);
        });
    }

    /**
     * A live resize: the volume's device here is refreshed to the room the SPM made, then the
     * guest using the volume grows its disk to {@code virtualSize} (QMP {@code block_resize} on
     * the volume's node), which the guest sees at once. False when no guest uses the volume here.
     */
    public Future<Boolean> growDisk(DomainRef domain, String volumeId, long virtualSize) {
        return onContext(() -> blocking(() -> {
            refreshDevice(domain, volumeId);
            return null;
        }).compose(v -> {
            WatchedVolume w = watched.get(volumeId);
            QemuConnection qemu = w == null ? null : qemus.get(w.socket);
            if (qemu == null) {
                return Future.succeededFuture(false);
            }
            return qemu.client().compose(c -> c.execute("block_resize", new JsonObject().put("node-name", w.nodeName).put("size", virtualSize)))
                    .map(r -> true);
        }));
    }

    /**
     * Streams a snapshot's layer into the layer above it in the guest using the volume here (QMP
     * {@code block-stream}), and completes when QEMU reports the job ended and the child backs
     * onto {@code base}. False when no guest uses the volume here.
     */
    public Future<Boolean> streamLayer(String volumeId, Path child, Path base) {
        return onContext(() -> {
            WatchedVolume w = watched.get(volumeId);
            if (w == null) {
                return Future.succeededFuture(false);
            }
            return layers.stream(qemus.get(w.socket), w, child, base);
        });
    }

    /**
     * A live move: the guest using the volume here mirrors its active layer onto {@code target}
     * in {@code targetDomain} and pivots to it (see {@link LiveLayers#mirror}); then the volume
     * is watched there: its allocation read from the target, the write threshold armed on the
     * new node. Completes with the bytes QEMU copied; fails with {@link NoGuest} when no guest
     * uses the volume here, and as {@link #cancelled} after {@link #cancelMirror}.
     */
    public Future<Long> mirror(String volumeId, String jobId, DomainRef targetDomain, String target, boolean device, String format,
                               boolean syncTop, long bytesPerSecond, MirrorProgress progress) {
        return onContext(() -> {
            WatchedVolume w = watched.get(volumeId);
            if (w == null) {
                return Future.failedFuture(new NoGuest("no guest uses volume " + volumeId + " on host " + config.hostId()
                        + " (it is prepared but not monitored): tear it down to move it offline, or monitor its guest to move it live"));
            }
            QemuConnection qemu = qemus.get(w.socket);
            mirrors.put(jobId, qemu);
            // QEMU announces no progress of a job: it is read, as often as block stats are.
            long progressTimer = vertx.setPeriodic(config.blockStatsInterval().toMillis(), t -> qemu.client()
                    .compose(c -> c.execute("query-block-jobs"))
                    .onSuccess(jobs -> ((JsonArray) jobs).stream().map(JsonObject.class::cast).filter(j -> jobId.equals(j.getString("device")))
                            .findFirst().filter(j -> mirrors.containsKey(jobId)) // not once the mirror has ended
                            .ifPresent(j -> progress.progress(j.getLong("offset", 0L), j.getLong("len", 0L)))));
            boolean grows = extendable(targetDomain);
            return blocking(() -> allocation(targetDomain, volumeId))
                    .compose(targetAllocation -> layers.mirror(qemu, w, jobId, target, device, format, syncTop, bytesPerSecond, node -> {
                        if (!grows) {
                            return Future.succeededFuture();
                        }
                        // Thin provisioning goes on during the mirror: the target's top is reported, and extended, as the mirror fills it.
                        w.mirrorTarget = new WatchedVolume.MirrorTarget(node, targetDomain, targetAllocation);
                        return armTarget(w);
                    }))
                    .onComplete(ar -> {
                        vertx.cancelTimer(progressTimer);
                        mirrors.remove(jobId);
                        w.mirrorTarget = null;
                    })
                    .compose(bytes -> blocking(() -> allocation(targetDomain, volumeId)).map(allocation -> {
                        w.domain = targetDomain;
                        w.allocation = allocation;
                        w.full = !extendable(targetDomain);
                        w.threshold = 0;
                        w.highest = 0;
                        w.highestAtNanos = 0;
                        arm(w);
                        return bytes;
                    }));
        });
    }

    /** Cancels a live move's mirror; the guest stays on the source. False when no such mirror runs here. */
    public Future<Boolean> cancelMirror(String jobId) {
        return onContext(() -> {
            QemuConnection qemu = mirrors.get(jobId);
            return qemu == null ? Future.succeededFuture(false) : qemu.cancelJob(jobId);
        });
    }

    /** How far a live move's mirror is, as QEMU's job says: bytes copied of the bytes it knows to copy now. */
    @FunctionalInterface
    public interface MirrorProgress {
        void progress(long copied, long total);
    }

    /** Whether a mirror failed because it was cancelled. */
    public static boolean cancelled(Throwable failure) {
        return failure instanceof QmpException q && QemuConnection.CANCELLED.equals(q.errorClass());
    }

    /** A guest's command for a volume no guest uses on this host. */
    public static final class NoGuest extends Exception {
        NoGuest(String message) {
            super(message);
        }
    }

    /** What holds a guest stopped while the host's lease watchdog is gone. */
    public static final String WATCHDOG_GONE = "watchdog";

    /**
     * The leases of these volumes are in doubt (the host's ZooKeeper session may be ending) or
     * lost: every guest using one of them here stops at once, killed if its QEMU does not answer
     * (see {@link GuestFences}). Completes when they are all stopped.
     */
    public Future<Void> fence(List<VolumeLease> leases, String reason) {
        return stopGuests(leases, w -> w.volumeId, reason);
    }

    /**
     * Nothing would stop this host's guests if the worker froze (its lease watchdog is gone):
     * every guest on a leased volume ({@code held}) stops until {@link #unfence} of {@link #WATCHDOG_GONE}.
     */
    public Future<Void> fenceAll(List<VolumeLease> held, String reason) {
        return stopGuests(held, w -> WATCHDOG_GONE, reason);
    }

    /** Stops the guests of the leases' volumes, each QEMU held by what {@code hold} names for its volumes. */
    private Future<Void> stopGuests(List<VolumeLease> leases, java.util.function.Function<WatchedVolume, String> hold, String reason) {
        Map<String, VolumeLease> byVolume = new HashMap<>();
        leases.forEach(l -> byVolume.put(l.volumeId(), l));
        return onContext(() -> {
            Map<Path, List<WatchedVolume>> bySocket = new HashMap<>();
            watched.values().stream().filter(w -> byVolume.containsKey(w.volumeId))
                    .forEach(w -> bySocket.computeIfAbsent(w.socket, s -> new ArrayList<>()).add(w));
            List<Future<Void>> stops = new ArrayList<>();
            bySocket.forEach((socket, volumes) -> {
                Set<String> holds = new HashSet<>();
                volumes.forEach(w -> holds.add(hold.apply(w)));
                stops.add(fences.stop(vertx, qemus.get(socket), socket, volumes, holds, byVolume, reason));
            });
            return Future.join(stops).mapEmpty();
        });
    }

    /**
     * These holds are gone (the volumes' leases proved never lost, or {@link #WATCHDOG_GONE}
     * after the watchdog came back): guests stopped for them alone run again.
     */
    public Future<Void> unfence(Collection<String> holds) {
        return onContext(() -> {
            Set<String> released = Set.copyOf(holds);
            List<Future<Void>> resumes = new ArrayList<>();
            for (QemuConnection qemu : List.copyOf(qemus.values())) {
                resumes.add(fences.release(qemu, qemu.socket, released, volumesOf(qemu)));
            }
            return Future.join(resumes).mapEmpty();
        });
    }

    /** Stops watching the volume (teardown, or the guest let it go). The threshold is cleared. */
    public Future<Void> unwatch(String volumeId) {
        return onContext(() -> {
            WatchedVolume w = watched.remove(volumeId);
            watchdog.release(volumeId);
            if (w == null) {
                return Future.succeededFuture();
            }
            QemuConnection qemu = qemus.get(w.socket);
            Future<Void> cleared = qemu == null ? Future.succeededFuture()
                    : qemu.client().compose(c -> c.execute("block-set-write-threshold",
                            new JsonObject().put("node-name", w.nodeName).put("write-threshold", 0))).<Void>mapEmpty().recover(e -> Future.succeededFuture());
            return cleared.onComplete(ar -> forgetIfUnused(w.socket));
        });
    }

    /**
     * The SPM extended the volume: refresh it here, re-arm, resume a paused guest, tell everyone.
     * A volume's answers are applied one after another, in the order the SPM sent them: the
     * device refresh runs on a worker thread, and two answers racing there (a report and the
     * pause right after it are answered twice) would tell the extend out of order.
     */
    public Future<Void> refresh(RefreshVolume cmd) {
        return onContext(() -> {
            String volumeId = cmd.getVolumeId();
            Future<Void> applied = refreshing.getOrDefault(volumeId, Future.succeededFuture()).transform(previous -> applyRefresh(cmd));
            refreshing.put(volumeId, applied);
            return applied.onComplete(ar -> refreshing.remove(volumeId, applied));
        });
    }

    private Future<Void> applyRefresh(RefreshVolume cmd) {
        return blocking(() -> {
            refreshDevice(cmd.getDomain(), cmd.getVolumeId());
            return null;
        }).compose(v -> {
            WatchedVolume w = watched.get(cmd.getVolumeId());
            if (w != null && w.mirrorTarget != null && !w.domain.getId().equals(cmd.getDomain().getId())
                    && w.mirrorTarget.domain.getId().equals(cmd.getDomain().getId())) {
                // An extend of a live move's target: the device above was refreshed; the target's threshold moves up.
                WatchedVolume.MirrorTarget t = w.mirrorTarget;
                boolean grew = cmd.getAllocation() > t.allocation;
                t.allocation = Math.max(t.allocation, cmd.getAllocation());
                t.reportedAtNanos = 0;
                return armTarget(w).onSuccess(armed -> {
                    if (grew) {
                        publishExtended(cmd, false);
                    }
                });
            }
            if (w == null) {
                // Extended for a guest that has gone; the refresh above still keeps this host's view right.
                publishExtended(cmd, false);
                return Future.succeededFuture();
            }
            // An answer to a report sent before the last extend arrived brings no news: the extend was told once.
            boolean grew = cmd.getAllocation() > w.allocation;
            w.answered(cmd.getAllocation(), cmd.getFullyAllocated());
            // A guest a fence holds stopped runs again only when its lease is proven, never on an extend.
            boolean resume = !fences.holds(w.socket) && w.startResume();
            return arm(w).compose(armed -> resume ? pauses.resume(qemus.get(w.socket), w, volumesOf(qemus.get(w.socket))).onComplete(ar -> w.resumeEnded()) : Future.succeededFuture(false))
                    .onSuccess(resumed -> {
                        if (grew) {
                            publishExtended(cmd, resumed);
                        }
                    })
                    .mapEmpty();
        });
    }


    private void publishExtended(RefreshVolume cmd, boolean resumed) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        long roundTrip = System.currentTimeMillis() - cmd.getReportedAt().toEpochMilli();
        boolean partial = cmd.getRequestedAllocation() > cmd.getAllocation();
        publish.accept(Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeExtended.newBuilder().setEnvelope(envelope)
                .setVolumeId(cmd.getVolumeId()).setDomainId(cmd.getDomain().getId()).setHostId(config.hostId())
                .setPreviousAllocation(cmd.getPreviousAllocation()).setAllocation(cmd.getAllocation())
                .setRoundTripMillis(roundTrip).setResumed(resumed)
                .setRequestedAllocation(cmd.getRequestedAllocation()).setPartial(partial).build()));
        LOG.info("host {}: volume {} extended {} -> {} bytes{}, {} ms after the report{}", config.hostId(), cmd.getVolumeId(),
                cmd.getPreviousAllocation(), cmd.getAllocation(), partial ? " (partial: " + cmd.getRequestedAllocation() + " asked for)" : "",
                roundTrip, resumed ? "; guest resumed" : "");
    }

    /** Arms the write threshold of a live move's target top where only the headroom is left in it. */
    private Future<Void> armTarget(WatchedVolume w) {
        WatchedVolume.MirrorTarget t = w.mirrorTarget;
        QemuConnection qemu = qemus.get(w.socket);
        long threshold = t == null ? 0 : policy.threshold(t.allocation, w.rate);
        if (qemu == null || threshold <= 0) {
            return Future.succeededFuture();
        }
        return qemu.client().compose(c -> c.execute("block-set-write-threshold",
                new JsonObject().put("node-name", t.nodeName).put("write-threshold", threshold)))
                .onSuccess(r -> t.threshold = threshold)
                .mapEmpty();
    }

    /** A live move's target top is filling: reported as the volume in the target's domain, which the SPM extends there. */
    private void reportTarget(WatchedVolume w, long highest) {
        WatchedVolume.MirrorTarget t = w.mirrorTarget;
        t.reportedAtNanos = System.nanoTime();
        t.highest = Math.max(t.highest, highest);
        VolumeWatermark report = VolumeWatermark.newBuilder().setEnvelope(w.envelope(config)).setVolumeId(w.volumeId)
                .setDomain(t.domain).setHostId(config.hostId()).setAllocation(t.allocation).setHighestOffset(t.highest)
                .setWriteRate(w.rate).setReason(WatermarkReason.THRESHOLD).setPaused(false).build();
        publish.accept(Records.of(Topics.watermarks(config.pool()), w.volumeId, report));
        LOG.info("host {}: the live move's target of volume {} in domain {} is at {} of {} bytes: reported", config.hostId(), w.volumeId,
                t.domain.getId(), highest, t.allocation);
    }

    /** Sets the threshold where only the headroom is left, or reports at once if it is already behind. */
    private Future<Void> arm(WatchedVolume w) {
        if (w.full) {
            return Future.succeededFuture();
        }
        long threshold = policy.threshold(w.allocation, w.rate);
        if (threshold <= w.highest && !w.reportPending()) {
            report(w, WatermarkReason.BLOCKSTATS);
            return Future.succeededFuture();
        }
        QemuConnection qemu = qemus.get(w.socket);
        if (qemu == null) {
            return Future.succeededFuture();
        }
        return qemu.client().compose(c -> c.execute("block-set-write-threshold",
                new JsonObject().put("node-name", w.nodeName).put("write-threshold", threshold)))
                .onSuccess(r -> w.threshold = threshold)
                .mapEmpty();
    }


    /** What the monitor does about each QEMU's events and connection. */
    private final QemuConnection.Owner owner = new QemuConnection.Owner() {
        @Override
        public void thresholdCrossed(QemuConnection qemu, JsonObject data) {
            String node = data.getString("node-name");
            for (WatchedVolume mirroring : volumesOf(qemu)) {
                if (mirroring.mirrorTarget != null && mirroring.mirrorTarget.nodeName.equals(node)) {
                    mirroring.mirrorTarget.threshold = 0;
                    reportTarget(mirroring, data.getLong("write-threshold", 0L) + data.getLong("amount-exceeded", 0L));
                    return;
                }
            }
            WatchedVolume w = find(qemu, data.getString("node-name"));
            if (w == null) {
                return;
            }
            w.threshold = 0;
            w.observe(data.getLong("write-threshold", 0L) + data.getLong("amount-exceeded", 0L), System.nanoTime());
            report(w, WatermarkReason.THRESHOLD);
        }

        @Override
        public void ioError(QemuConnection qemu, JsonObject data) {
            WatchedVolume w = find(qemu, data.getString("node-name"));
            w = w != null ? w : find(qemu, data.getString("device"));
            if (w != null) {
                pauses.ioError(w, data);
            }
        }

        @Override
        public void resumed(QemuConnection qemu) {
            volumesOf(qemu).forEach(WatchedVolume::running);
        }

        @Override
        public boolean wanted(QemuConnection qemu) {
            return lifecycle.isStarted() && !volumesOf(qemu).isEmpty();
        }

        @Override
        public void reconnected(QemuConnection qemu) {
            volumesOf(qemu).forEach(w -> arm(w));
        }

        @Override
        public void dropped(QemuConnection qemu) {
            qemus.remove(qemu.socket, qemu);
        }
    };



    /** The slow path: highest offsets of every watched node, rates, and reports that are due or unanswered. */
    private void readBlockStats() {
        for (QemuConnection qemu : List.copyOf(qemus.values())) {
            List<WatchedVolume> volumes = volumesOf(qemu);
            if (volumes.isEmpty()) {
                continue;
            }
            qemu.client().compose(c -> readHighest(c, volumes)).onSuccess(v -> {
                long retryAfter = config.blockStatsInterval().toNanos();
                for (WatchedVolume w : volumes) {
                    WatchedVolume.MirrorTarget t = w.mirrorTarget;
                    if (t != null && t.reportedAtNanos != 0 && System.nanoTime() - t.reportedAtNanos >= retryAfter) {
                        reportTarget(w, t.highest); // unanswered (the SPM failed over, say): told again
                    }
                    if (w.full || watched.get(w.volumeId) != w) {
                        continue;
                    }
                    boolean due = policy.needsExtend(w.allocation, w.highest, w.rate) || w.pausedNoSpace();
                    if (due && (!w.reportPending() || System.nanoTime() - w.reportedAtNanos >= retryAfter << Math.min(w.unanswered, 6))) {
                        w.unanswered += w.reportPending() ? 1 : 0;
                        report(w, w.pausedNoSpace() ? WatermarkReason.NOSPACE : WatermarkReason.BLOCKSTATS);
                    } else if (!due && w.threshold == 0) {
                        arm(w);
                    }
                }
            }).onFailure(e -> {
                LOG.debug("host {}: block stats of {}: {}", config.hostId(), qemu.socket, e.getMessage());
                qemu.scheduleReconnect();
            });
        }
    }

    private Future<Void> readHighest(QmpClient client, List<WatchedVolume> volumes) {
        return client.execute("query-blockstats", new JsonObject().put("query-nodes", true)).map(result -> {
            Map<String, Long> highest = new HashMap<>();
            for (Object o : (JsonArray) result) {
                JsonObject node = (JsonObject) o;
                JsonObject stats = node.getJsonObject("stats");
                if (node.getString("node-name") != null && stats != null) {
                    highest.put(node.getString("node-name"), stats.getLong("wr_highest_offset", 0L));
                }
            }
            for (WatchedVolume w : volumes) {
                Long h = highest.get(w.nodeName);
                if (h != null) {
                    w.observe(h, System.nanoTime());
                }
            }
            return null;
        });
    }

    private void report(WatchedVolume w, WatermarkReason reason) {
        w.reportedAtNanos = System.nanoTime();
        VolumeWatermark report = VolumeWatermark.newBuilder().setEnvelope(w.envelope(config)).setVolumeId(w.volumeId)
                .setDomain(w.domain).setHostId(config.hostId()).setAllocation(w.allocation).setHighestOffset(w.highest)
                .setWriteRate(w.rate).setReason(reason).setPaused(w.paused()).build();
        publish.accept(Records.of(Topics.watermarks(config.pool()), w.volumeId, report));
        LOG.debug("host {}: reported volume {} at {} of {} bytes ({})", config.hostId(), w.volumeId, w.highest, w.allocation, reason);
    }


    private WatchedVolume find(QemuConnection qemu, String name) {
        if (name == null) {
            return null;
        }
        for (WatchedVolume w : watched.values()) {
            if (w.socket.equals(qemu.socket) && (name.equals(w.nodeName) || name.equals(w.drive))) {
                return w;
            }
        }
        return null;
    }

    private List<WatchedVolume> volumesOf(QemuConnection qemu) {
        List<WatchedVolume> result = new ArrayList<>();
        for (WatchedVolume w : watched.values()) {
            if (w.socket.equals(qemu.socket)) {
                result.add(w);
            }
        }
        return result;
    }

    private void forgetIfUnused(Path socket) {
        QemuConnection qemu = qemus.get(socket);
        if (qemu != null && volumesOf(qemu).isEmpty()) {
            qemus.remove(socket);
            fences.forget(socket);
            qemu.close();
        }
    }

    private long allocation(DomainRef domain, String volumeId) throws DriverException {
        return driver(domain).info(context(domain), new VolumeUri(domain.getId(), volumeId)).allocatedSize();
    }

    private boolean extendable(DomainRef domain) {
        return drivers.find(domain.getDriver()).map(d -> d.capabilities().contains(Capability.EXTENDABLE)).orElse(false);
    }

    private void refreshDevice(DomainRef domain, String volumeId) throws DriverException {
        StorageDriver driver = driver(domain);
        if (driver.capabilities().contains(Capability.REFRESH)) {
            driver.refresh(context(domain), new VolumeUri(domain.getId(), volumeId));
        }
    }

    private StorageDriver driver(DomainRef domain) throws DriverException {
        return HostDrivers.driver(drivers, config.hostId(), domain);
    }

    private static DomainContext context(DomainRef domain) {
        return HostDrivers.context(domain);
    }

    /** Driver calls run {@code losetup}, {@code lvchange}: off the event loop. */
    private <T> Future<T> blocking(Callable<T> call) {
        return vertx.executeBlocking(call, false);
    }

    private <T> Future<T> onContext(java.util.function.Supplier<Future<T>> step) {
        if (!lifecycle.isStarted()) {
            return Future.failedFuture(new IllegalStateException("volume monitor is not running"));
        }
        Promise<T> promise = Promise.promise();
        context.runOnContext(v -> step.get().onComplete(promise));
        return promise.future();
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        vertx.cancelTimer(statsTimer);
        vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, java.util.concurrent.TimeUnit.SECONDS).exceptionally(e -> null).join();
    }
}
