package io.storagebus.worker.thin;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Records;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.bus.Topics;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeUri;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.GuestPaused;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.VolumeExtended;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.schema.WatermarkReason;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.qmp.QmpClient;
import io.storagebus.worker.qmp.QmpException;
import io.storagebus.worker.qmp.QmpListener;
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
 * <p>All state lives on one Vert.x context; driver calls that spawn processes run on workers.
 */
public final class VolumeMonitor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeMonitor.class);

    /** One guest's use of one volume. */
    private static final class Watched {
        final String volumeId;
        final DomainRef domain;
        final Path socket;
        /** The guest's top node of the volume; a live snapshot moves it to the new layer. */
        String nodeName;
        final String drive;
        long allocation;
        long highest;
        long highestAtNanos;
        long rate;
        long threshold;
        boolean full;
        boolean paused;
        /** Paused because the volume is full, which an extend cures (not any other I/O error). */
        boolean pausedNoSpace;
        /** A {@code cont} is on its way: answers to the same pause (threshold and nospace reports) resume once. */
        boolean resuming;
        long pausedAtMillis;
        /** False when the guest was found paused: then pausedAtMillis is when the host noticed, not when QEMU stopped. */
        boolean pauseStartKnown;
        long reportedAtNanos;
        /** Reports in a row the SPM did not answer (it could not extend, or failed over): the retry backs off. */
        int unanswered;

        Watched(MonitorVolume cmd, long allocation) {
            this.volumeId = cmd.getVolumeId();
            this.domain = cmd.getDomain();
            this.socket = Path.of(cmd.getQmpSocket());
            this.nodeName = cmd.getNodeName();
            this.drive = cmd.getDrive() != null ? cmd.getDrive() : cmd.getNodeName();
            this.allocation = allocation;
        }

        boolean reportPending() {
            return reportedAtNanos != 0;
        }
    }

    /** The QMP connection to one QEMU, shared by the volumes it uses. */
    private final class Qemu implements QmpListener {
        final Path socket;
        Future<QmpClient> client;
        long reconnectTimer = -1;
        /** Block jobs started here and not ended yet, by job id. */
        final Map<String, Promise<Void>> jobs = new HashMap<>();

        void jobEnded(String jobId, String error) {
            Promise<Void> job = jobs.remove(jobId);
            if (job != null) {
                if (error == null) {
                    job.complete();
                } else {
                    job.fail(new QmpException("BlockJobFailed", "block job " + jobId + " failed: " + error));
                }
            }
        }

        Qemu(Path socket) {
            this.socket = socket;
        }

        Future<QmpClient> client() {
            if (client == null || client.failed() || (client.succeeded() && !client.result().isOpen())) {
                client = QmpClient.connect(vertx, socket, this);
            }
            return client;
        }

        @Override
        public void event(String name, JsonObject data, long timestampMicros) {
            switch (name) {
                case "BLOCK_WRITE_THRESHOLD" -> thresholdCrossed(this, data);
                case "BLOCK_IO_ERROR" -> ioError(this, data);
                case "BLOCK_JOB_COMPLETED" -> jobEnded(data.getString("device"), data.getString("error"));
                case "BLOCK_JOB_ERROR" -> jobEnded(data.getString("device"), "I/O error (" + data.getString("operation") + ")");
                case "RESUME" -> volumesOf(this).forEach(w -> {
                    w.paused = false;
                    w.pausedNoSpace = false;
                });
                default -> { }
            }
        }

        @Override
        public void closed(QmpClient closed, Throwable cause) {
            if (volumesOf(this).isEmpty() || !lifecycle.isStarted()) {
                qemus.remove(socket);
                return;
            }
            LOG.warn("host {}: QMP connection to {} lost ({}); reconnecting", config.hostId(), socket, cause.getMessage());
            scheduleReconnect();
        }

        void scheduleReconnect() {
            if (reconnectTimer >= 0) {
                return;
            }
            reconnectTimer = vertx.setTimer(RECONNECT_MS, t -> {
                reconnectTimer = -1;
                if (volumesOf(this).isEmpty()) {
                    return;
                }
                // A restarted QEMU has no thresholds: arm them all again.
                client().onSuccess(c -> volumesOf(this).forEach(w -> arm(w)))
                        .onFailure(e -> scheduleReconnect());
            });
        }
    }

    private static final long RECONNECT_MS = 1000;

    private final WorkerConfig config;
    private final DriverRegistry drivers;
    private final ExtendPolicy policy;
    private final Consumer<ProducerRecord<String, byte[]>> publish;
    private final Lifecycle lifecycle = new Lifecycle("volume monitor");
    private final Map<String, Watched> watched = new HashMap<>();
    private final Map<Path, Qemu> qemus = new HashMap<>();
    private Vertx vertx;
    private Context context;
    private long statsTimer;

    /** {@code publish} sends a record to Kafka without blocking (a producer's send). */
    public VolumeMonitor(WorkerConfig config, DriverRegistry drivers, Consumer<ProducerRecord<String, byte[]>> publish) {
        this.config = config;
        this.drivers = drivers;
        this.policy = config.extendPolicy();
        this.publish = publish;
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
                    Watched w = new Watched(cmd, allocation);
                    // A volume that cannot grow is watched for its guest only (pauses, live snapshots), never reported.
                    w.full = !extendable(cmd.getDomain());
                    Watched previous = watched.put(w.volumeId, w);
                    if (previous != null && !previous.socket.equals(w.socket)) {
                        forgetIfUnused(previous.socket);
                    }
                    Qemu qemu = qemus.computeIfAbsent(w.socket, Qemu::new);
                    return qemu.client().compose(c -> readHighest(c, List.of(w)).compose(v -> pausedBefore(c, w))).compose(v -> arm(w));
                })
                .onSuccess(v -> LOG.info("host {}: watching volume {} on {} node {}", config.hostId(), cmd.getVolumeId(),
                        cmd.getQmpSocket(), cmd.getNodeName()))
                .onFailure(e -> {
                    Watched w = watched.get(cmd.getVolumeId());
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
            Watched w = watched.get(volumeId);
            if (w == null) {
                return Future.succeededFuture(false);
            }
            String node = "sb" + Integer.toHexString(overlay.hashCode());
            return qemus.get(w.socket).client().compose(c -> c.execute("blockdev-snapshot-sync", new JsonObject()
                            .put("node-name", w.nodeName).put("snapshot-file", overlay).put("snapshot-node-name", node)
                            .put("format", "qcow2").put("mode", "existing")))
                    .map(r -> {
                        LOG.info("host {}: guest on {} switched volume {} from node {} to the new layer {} ({})", config.hostId(), w.socket,
                                volumeId, w.nodeName, node, overlay);
                        w.nodeName = node;
                        return true;
                    });
        });
    }

    /**
     * Streams a snapshot's layer into the layer above it in the guest using the volume here (QMP
     * {@code block-stream}), and completes when QEMU reports the job ended and the child backs
     * onto {@code base}. False when no guest uses the volume here.
     */
    public Future<Boolean> streamLayer(String volumeId, Path child, Path base) {
        return onContext(() -> {
            Watched w = watched.get(volumeId);
            if (w == null) {
                return Future.succeededFuture(false);
            }
            Qemu qemu = qemus.get(w.socket);
            return qemu.client().compose(c -> c.execute("query-named-block-nodes").compose(nodes -> {
                String childNode = nodeOf((JsonArray) nodes, child, w.nodeName);
                String baseNode = base == null ? null : nodeOf((JsonArray) nodes, base, null);
                if (childNode == null || base != null && baseNode == null) {
                    return Future.failedFuture(new QmpException("NodeNotFound", "QEMU on " + w.socket + " has no node for "
                            + (childNode == null ? child : base) + " in the chain of volume " + volumeId));
                }
                String jobId = "sb-stream-" + Integer.toHexString(child.hashCode());
                JsonObject args = new JsonObject().put("job-id", jobId).put("device", childNode);
                if (baseNode != null) {
                    args.put("base-node", baseNode).put("backing-file", base.getFileName().toString());
                }
                Promise<Void> ended = Promise.promise();
                qemu.jobs.put(jobId, ended);
                return c.execute("block-stream", args)
                        .onFailure(e -> qemu.jobs.remove(jobId))
                        .compose(started -> ended.future())
                        .map(done -> {
                            LOG.info("host {}: streamed the layer below {} into it in the guest on {}", config.hostId(), child, w.socket);
                            return true;
                        });
            }));
        });
    }

    /** Block drivers of the nodes below a format node, which name the same file. */
    private static final java.util.Set<String> PROTOCOL_DRIVERS = java.util.Set.of("file", "host_device");

    /** The node whose image is {@code file}: the watched top node when the file is the top. */
    private static String nodeOf(JsonArray nodes, Path file, String topNode) {
        for (Object o : nodes) {
            JsonObject node = (JsonObject) o;
            String name = node.getString("node-name");
            String image = node.getString("file");
            if (image != null && image.startsWith("json:")) {
                // A node QEMU opened with options (an overlay a snapshot added) names its file in a JSON pseudo-filename.
                image = new JsonObject(image.substring("json:".length())).getJsonObject("file", new JsonObject()).getString("filename");
            }
            // By file name: a guest may open a layer where its host activated it (a link to a device), not at its path on
            // the storage; the names are the same, and unique, being the volume's id and the layer's generation.
            if (name != null && image != null && !PROTOCOL_DRIVERS.contains(node.getString("drv"))
                    && Path.of(image).getFileName().equals(file.getFileName())) {
                return topNode != null && name.equals(topNode) ? topNode : name;
            }
        }
        return null;
    }

    /** Stops watching the volume (teardown, or the guest let it go). The threshold is cleared. */
    public Future<Void> unwatch(String volumeId) {
        return onContext(() -> {
            Watched w = watched.remove(volumeId);
            if (w == null) {
                return Future.succeededFuture();
            }
            Qemu qemu = qemus.get(w.socket);
            Future<Void> cleared = qemu == null ? Future.succeededFuture()
                    : qemu.client().compose(c -> c.execute("block-set-write-threshold",
                            new JsonObject().put("node-name", w.nodeName).put("write-threshold", 0))).<Void>mapEmpty().recover(e -> Future.succeededFuture());
            return cleared.onComplete(ar -> forgetIfUnused(w.socket));
        });
    }

    /** The SPM extended the volume: refresh it here, re-arm, resume a paused guest, tell everyone. */
    public Future<Void> refresh(RefreshVolume cmd) {
        return onContext(() -> blocking(() -> {
            refreshDevice(cmd.getDomain(), cmd.getVolumeId());
            return null;
        }).compose(v -> {
            Watched w = watched.get(cmd.getVolumeId());
            if (w == null) {
                // Extended for a guest that has gone; the refresh above still keeps this host's view right.
                publishExtended(cmd, false);
                return Future.succeededFuture();
            }
            w.allocation = Math.max(w.allocation, cmd.getAllocation());
            w.full = cmd.getFullyAllocated();
            w.reportedAtNanos = 0;
            w.unanswered = 0;
            boolean resume = w.paused && !w.resuming;
            w.resuming |= resume;
            return arm(w).compose(armed -> resume ? resume(w).onComplete(ar -> w.resuming = false) : Future.succeededFuture(false))
                    .onSuccess(resumed -> publishExtended(cmd, resumed))
                    .mapEmpty();
        }));
    }

    private Future<Boolean> resume(Watched w) {
        if (watched.values().stream().anyMatch(o -> o != w && o.socket.equals(w.socket) && o.pausedNoSpace && o.reportPending())) {
            // Another volume of the same guest is still full: resuming now would pause it again at once.
            return Future.succeededFuture(false);
        }
        return qemus.get(w.socket).client().compose(c -> c.execute("cont")).map(r -> {
            long pausedMillis = System.currentTimeMillis() - w.pausedAtMillis;
            volumesOf(qemus.get(w.socket)).forEach(o -> {
                o.paused = false;
                o.pausedNoSpace = false;
            });
            LOG.info("host {}: guest using volume {} resumed after {}{} ms", config.hostId(), w.volumeId, w.pauseStartKnown ? "" : "at least ",
                    pausedMillis);
            publish.accept(Records.of(Topics.EVENTS, w.volumeId, GuestResumed.newBuilder().setEnvelope(origin(w.volumeId))
                    .setVolumeId(w.volumeId).setDomainId(w.domain.getId()).setHostId(config.hostId()).setPausedMillis(pausedMillis)
                    .setPauseStartKnown(w.pauseStartKnown).build()));
            return true;
        });
    }

    private void publishExtended(RefreshVolume cmd, boolean resumed) {
        Envelope envelope = Envelopes.causedBy(cmd.getEnvelope(), config.issuer(), null);
        long roundTrip = System.currentTimeMillis() - cmd.getReportedAt().toEpochMilli();
        publish.accept(Records.of(Topics.EVENTS, cmd.getVolumeId(), VolumeExtended.newBuilder().setEnvelope(envelope)
                .setVolumeId(cmd.getVolumeId()).setDomainId(cmd.getDomain().getId()).setHostId(config.hostId())
                .setPreviousAllocation(cmd.getPreviousAllocation()).setAllocation(cmd.getAllocation())
                .setRoundTripMillis(roundTrip).setResumed(resumed).build()));
        LOG.info("host {}: volume {} extended {} -> {} bytes, {} ms after the report{}", config.hostId(), cmd.getVolumeId(),
                cmd.getPreviousAllocation(), cmd.getAllocation(), roundTrip, resumed ? "; guest resumed" : "");
    }

    /** Sets the threshold where only the headroom is left, or reports at once if it is already behind. */
    private Future<Void> arm(Watched w) {
        if (w.full) {
            return Future.succeededFuture();
        }
        long threshold = policy.threshold(w.allocation, w.rate);
        if (threshold <= w.highest && !w.reportPending()) {
            report(w, WatermarkReason.BLOCKSTATS);
            return Future.succeededFuture();
        }
        Qemu qemu = qemus.get(w.socket);
        if (qemu == null) {
            return Future.succeededFuture();
        }
        return qemu.client().compose(c -> c.execute("block-set-write-threshold",
                new JsonObject().put("node-name", w.nodeName).put("write-threshold", threshold)))
                .onSuccess(r -> w.threshold = threshold)
                .mapEmpty();
    }

    /**
     * A guest may have paused on the full volume before this host watched it (the worker was
     * restarted, say): QEMU keeps the disk's I/O status, so the pause is found and reported now.
     */
    private Future<Void> pausedBefore(QmpClient client, Watched w) {
        return client.execute("query-block").map(result -> {
            for (Object o : (JsonArray) result) {
                JsonObject disk = (JsonObject) o;
                JsonObject inserted = disk.getJsonObject("inserted", new JsonObject());
                boolean ours = w.drive.equals(inserted.getString("node-name")) || w.drive.equals(disk.getString("device"))
                        || w.drive.equals(disk.getString("qdev"));
                if (ours && "nospace".equals(disk.getString("io-status"))) {
                    paused(w, true, "found paused on a full volume", false);
                }
            }
            return null;
        });
    }

    private void thresholdCrossed(Qemu qemu, JsonObject data) {
        Watched w = find(qemu, data.getString("node-name"));
        if (w == null) {
            return;
        }
        w.threshold = 0;
        observe(w, data.getLong("write-threshold", 0L) + data.getLong("amount-exceeded", 0L));
        report(w, WatermarkReason.THRESHOLD);
    }

    private void ioError(Qemu qemu, JsonObject data) {
        Watched w = find(qemu, data.getString("node-name"));
        if (w == null) {
            w = find(qemu, data.getString("device"));
        }
        if (w == null || !"stop".equals(data.getString("action"))) {
            return;
        }
        paused(w, data.getBoolean("nospace", false), String.valueOf(data.getString("reason")), true);
    }

    /** The guest stopped on an I/O error of the volume: say so, and on a full volume ask for space at once. */
    private void paused(Watched w, boolean nospace, String reason, boolean startKnown) {
        if (w.paused) {
            return; // every request in flight fails alike: one pause
        }
        w.paused = true;
        w.pausedNoSpace = nospace;
        w.pausedAtMillis = System.currentTimeMillis();
        w.pauseStartKnown = startKnown;
        StorageBusMetrics.get().guestPaused();
        LOG.warn("host {}: guest paused on volume {}: {}{}", config.hostId(), w.volumeId, reason, nospace ? " (no space)" : "");
        publish.accept(Records.of(Topics.EVENTS, w.volumeId, GuestPaused.newBuilder().setEnvelope(origin(w.volumeId))
                .setVolumeId(w.volumeId).setDomainId(w.domain.getId()).setHostId(config.hostId()).setNospace(nospace)
                .setReason(reason).build()));
        if (nospace) {
            w.highest = Math.max(w.highest, w.allocation);
            report(w, WatermarkReason.NOSPACE);
        }
    }

    /** The slow path: highest offsets of every watched node, rates, and reports that are due or unanswered. */
    private void readBlockStats() {
        for (Qemu qemu : List.copyOf(qemus.values())) {
            List<Watched> volumes = volumesOf(qemu);
            if (volumes.isEmpty()) {
                continue;
            }
            qemu.client().compose(c -> readHighest(c, volumes)).onSuccess(v -> {
                long retryAfter = config.blockStatsInterval().toNanos();
                for (Watched w : volumes) {
                    if (w.full || watched.get(w.volumeId) != w) {
                        continue;
                    }
                    boolean due = policy.needsExtend(w.allocation, w.highest, w.rate) || w.pausedNoSpace;
                    if (due && (!w.reportPending() || System.nanoTime() - w.reportedAtNanos >= retryAfter << Math.min(w.unanswered, 6))) {
                        w.unanswered += w.reportPending() ? 1 : 0;
                        report(w, w.pausedNoSpace ? WatermarkReason.NOSPACE : WatermarkReason.BLOCKSTATS);
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

    private Future<Void> readHighest(QmpClient client, List<Watched> volumes) {
        return client.execute("query-blockstats", new JsonObject().put("query-nodes", true)).map(result -> {
            Map<String, Long> highest = new HashMap<>();
            for (Object o : (JsonArray) result) {
                JsonObject node = (JsonObject) o;
                JsonObject stats = node.getJsonObject("stats");
                if (node.getString("node-name") != null && stats != null) {
                    highest.put(node.getString("node-name"), stats.getLong("wr_highest_offset", 0L));
                }
            }
            for (Watched w : volumes) {
                Long h = highest.get(w.nodeName);
                if (h != null) {
                    observe(w, h);
                }
            }
            return null;
        });
    }

    /** A new highest offset; the write rate is smoothed over the readings. */
    private static void observe(Watched w, long highest) {
        long now = System.nanoTime();
        if (highest > w.highest && w.highestAtNanos != 0) {
            double seconds = (now - w.highestAtNanos) / 1e9;
            if (seconds > 0.01) {
                long rate = (long) ((highest - w.highest) / seconds);
                w.rate = w.rate == 0 ? rate : (w.rate + rate) / 2;
            }
        }
        if (highest > w.highest || w.highestAtNanos == 0) {
            w.highest = Math.max(w.highest, highest);
            w.highestAtNanos = now;
        }
    }

    private void report(Watched w, WatermarkReason reason) {
        w.reportedAtNanos = System.nanoTime();
        VolumeWatermark report = VolumeWatermark.newBuilder().setEnvelope(origin(w.volumeId)).setVolumeId(w.volumeId)
                .setDomain(w.domain).setHostId(config.hostId()).setAllocation(w.allocation).setHighestOffset(w.highest)
                .setWriteRate(w.rate).setReason(reason).setPaused(w.paused).build();
        publish.accept(Records.of(Topics.watermarks(config.pool()), w.volumeId, report));
        LOG.debug("host {}: reported volume {} at {} of {} bytes ({})", config.hostId(), w.volumeId, w.highest, w.allocation, reason);
    }

    private Envelope origin(String volumeId) {
        return Envelopes.origin(config.pool(), config.issuer(), "extend-" + volumeId);
    }

    private Watched find(Qemu qemu, String name) {
        if (name == null) {
            return null;
        }
        for (Watched w : watched.values()) {
            if (w.socket.equals(qemu.socket) && (name.equals(w.nodeName) || name.equals(w.drive))) {
                return w;
            }
        }
        return null;
    }

    private List<Watched> volumesOf(Qemu qemu) {
        List<Watched> result = new ArrayList<>();
        for (Watched w : watched.values()) {
            if (w.socket.equals(qemu.socket)) {
                result.add(w);
            }
        }
        return result;
    }

    private void forgetIfUnused(Path socket) {
        Qemu qemu = qemus.get(socket);
        if (qemu != null && volumesOf(qemu).isEmpty()) {
            qemus.remove(socket);
            if (qemu.reconnectTimer >= 0) {
                vertx.cancelTimer(qemu.reconnectTimer);
            }
            if (qemu.client != null && qemu.client.succeeded()) {
                qemu.client.result().close();
            }
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
        return drivers.find(domain.getDriver()).orElseThrow(() -> new DriverException(DriverException.Code.UNSUPPORTED,
                "host " + config.hostId() + " has no driver '" + domain.getDriver() + "'"));
    }

    private static DomainContext context(DomainRef domain) {
        return new DomainContext(domain.getId(), domain.getProperties());
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
