package io.storagebus.worker.thin;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.GuestPaused;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.WatermarkReason;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.qmp.QmpClient;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A guest's pauses on its volumes. QEMU stops a guest whose write failed ({@code BLOCK_IO_ERROR},
 * action stop); on a full volume the SPM is asked for space at once, and once it extended the
 * volume the guest is resumed. Each pause and resume is told on the event stream.
 */
final class GuestPauses {
    private static final Logger LOG = LoggerFactory.getLogger(GuestPauses.class);

    private final WorkerConfig config;
    private final Consumer<ProducerRecord<String, byte[]>> publish;
    /** Reports a volume to the SPM now. */
    private final BiConsumer<WatchedVolume, WatermarkReason> report;

    GuestPauses(WorkerConfig config, Consumer<ProducerRecord<String, byte[]>> publish, BiConsumer<WatchedVolume, WatermarkReason> report) {
        this.config = config;
        this.publish = publish;
        this.report = report;
    }

    /** QEMU's {@code BLOCK_IO_ERROR} about the volume: a pause if QEMU stopped the guest. */
    void ioError(WatchedVolume w, JsonObject data) {
        if ("stop".equals(data.getString("action"))) {
            paused(w, data.getBoolean("nospace", false), String.valueOf(data.getString("reason")), true);
        }
    }

    /**
     * A guest may have paused on the full volume before this host watched it (the worker was
     * restarted, say): QEMU keeps the disk's I/O status, so the pause is found and reported now.
     */
    Future<Void> pausedBefore(QmpClient client, WatchedVolume w) {
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

    /**
     * Resumes the guest after its volume was extended; not while another of its volumes
     * ({@code sameGuest}) is still full and waits for space, which would pause it again at once.
     */
    Future<Boolean> resume(QemuConnection qemu, WatchedVolume w, List<WatchedVolume> sameGuest) {
        if (sameGuest.stream().anyMatch(o -> o != w && o.pausedNoSpace() && o.reportPending())) {
            return Future.succeededFuture(false);
        }
        Map<WatchedVolume, Integer> pausesBefore = new HashMap<>();
        sameGuest.forEach(o -> pausesBefore.put(o, o.pauses()));
        return qemu.client().compose(c -> c.execute("cont")).map(r -> {
            long pausedMillis = w.pausedMillis(System.currentTimeMillis());
            sameGuest.forEach(o -> o.resumedAfter(pausesBefore.get(o)));
            LOG.info("host {}: guest using volume {} resumed after {}{} ms", config.hostId(), w.volumeId, w.pauseStartKnown() ? "" : "at least ",
                    pausedMillis);
            publish.accept(Records.of(Topics.EVENTS, w.volumeId, GuestResumed.newBuilder().setEnvelope(w.envelope(config))
                    .setVolumeId(w.volumeId).setDomainId(w.domain.getId()).setHostId(config.hostId()).setPausedMillis(pausedMillis)
                    .setPauseStartKnown(w.pauseStartKnown()).build()));
            return true;
        });
    }

    /** The guest stopped on an I/O error of the volume: say so, and on a full volume ask for space at once. */
    private void paused(WatchedVolume w, boolean nospace, String reason, boolean startKnown) {
        if (!w.pause(nospace, startKnown, System.currentTimeMillis())) {
            return; // every request in flight fails alike: one pause
        }
        StorageBusMetrics.get().guestPaused();
        LOG.warn("host {}: guest paused on volume {}: {}{}", config.hostId(), w.volumeId, reason, nospace ? " (no space)" : "");
        publish.accept(Records.of(Topics.EVENTS, w.volumeId, GuestPaused.newBuilder().setEnvelope(w.envelope(config))
                .setVolumeId(w.volumeId).setDomainId(w.domain.getId()).setHostId(config.hostId()).setNospace(nospace)
                .setReason(reason).build()));
        if (nospace) {
            report.accept(w, WatermarkReason.NOSPACE);
        }
    }
}
