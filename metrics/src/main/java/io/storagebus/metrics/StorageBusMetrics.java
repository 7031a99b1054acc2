package io.storagebus.metrics;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleSupplier;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * The Prometheus series of a StorageBus process, all named {@code storagebus_*} and listed in
 * docs/OPERATIONS.md. One instance per process ({@link #get()}): a manager or a worker records
 * into it and serves it at {@code GET /metrics}.
 */
public final class StorageBusMetrics {
    /** From a millisecond to a minute: commands range from a metadata write to a copy's accept. */
    private static final double[] LATENCY_BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
    private static final StorageBusMetrics INSTANCE = new StorageBusMetrics(new PrometheusRegistry());

    private final PrometheusRegistry registry;
    private final Histogram commandDuration;
    private final Histogram extendRoundTrip;
    private final Counter extends_;
    private final Counter driverErrors;
    private final Counter spmFenced;
    private final Gauge spmEpoch;
    private final Counter spmTerms;
    private final Counter maintenanceDecisions;
    private final Counter guestPauses;
    private final Counter restRequests;
    private final Histogram restDuration;
    private final Counter deadLetters;
    private final Gauge managerActive;
    private final Gauge secondsToFull;
    private final Gauge eventStreamClients;
    private final Counter eventStreamDrops;
    private final Map<String, DoubleSupplier> lagSources = new ConcurrentHashMap<>();

    StorageBusMetrics(PrometheusRegistry registry) {
        this.registry = registry;
        commandDuration = Histogram.builder().name("storagebus_command_duration_seconds")
                .help("From a command's issue (its envelope timestamp) to its outcome on the worker that carried it out")
                .labelNames("command", "outcome").classicUpperBounds(LATENCY_BUCKETS).register(registry);
        extendRoundTrip = Histogram.builder().name("storagebus_extend_round_trip_seconds")
                .help("From a host's watermark report to the host receiving the SPM's refresh (measured on the host)")
                .classicUpperBounds(LATENCY_BUCKETS).register(registry);
        extends_ = Counter.builder().name("storagebus_extends_total")
                .help("Watermark reports the SPM answered, by outcome (extended, partial: less than asked for, the domain being short; unchanged, failed)")
                .labelNames("outcome").register(registry);
        driverErrors = Counter.builder().name("storagebus_driver_errors_total")
                .help("Storage driver operations that failed, by driver and error code")
                .labelNames("driver", "code").register(registry);
        spmFenced = Counter.builder().name("storagebus_spm_fenced_total")
                .help("SPM terms of this worker that the storage refused (a newer term had written a domain) and that stopped")
                .labelNames("pool").register(registry);
        spmEpoch = Gauge.builder().name("storagebus_spm_epoch")
                .help("Epoch of the pool's current SPM term as this process sees it (0 while none)")
                .labelNames("pool").register(registry);
        secondsToFull = Gauge.builder().name("storagebus_domain_seconds_to_full")
                .help("The SPM's forecast of seconds until a domain is full, at the rate its thin volumes have been asking for space "
                        + "(-1: no forecast yet)")
                .labelNames("domain").register(registry);
        spmTerms = Counter.builder().name("storagebus_spm_changes_total")
                .help("SPM terms that started, as this process saw them")
                .labelNames("pool").register(registry);
        maintenanceDecisions = Counter.builder().name("storagebus_maintenance_decisions_total")
                .help("Maintenance requests decided by the active manager, by outcome (STARTED, ABORTED, CANCELLED, COMPLETED)")
                .labelNames("outcome").register(registry);
        guestPauses = Counter.builder().name("storagebus_guest_pauses_total")
                .help("Guests QEMU paused because a volume ran out of space (ENOSPC)").register(registry);
        restRequests = Counter.builder().name("storagebus_http_requests_total")
                .help("REST requests answered, by method and status").labelNames("method", "status").register(registry);
        restDuration = Histogram.builder().name("storagebus_http_request_duration_seconds")
                .help("Time to answer a REST request, by method").labelNames("method").classicUpperBounds(LATENCY_BUCKETS)
                .register(registry);
        deadLetters = Counter.builder().name("storagebus_dead_letters_total")
                .help("Records that could not be decoded and went to the dead-letter topic").register(registry);
        managerActive = Gauge.builder().name("storagebus_manager_active")
                .help("1 while this manager is the active one, 0 while it stands by").register(registry);
        eventStreamClients = Gauge.builder().name("storagebus_event_stream_clients")
                .help("Clients following GET /api/v1/events on this manager").register(registry);
        eventStreamDrops = Counter.builder().name("storagebus_event_stream_drops_total")
                .help("Event stream clients this manager cut off, by reason (TOO_SLOW: fell behind by more than the stream holds)")
                .labelNames("reason").register(registry);
        GaugeWithCallback.builder().name("storagebus_consumer_lag_records")
                .help("Records a consumer has yet to read (the largest lag over its partitions), by consumer")
                .labelNames("consumer")
                .callback(cb -> lagSources.forEach((name, lag) -> {
                    double value = lag.getAsDouble();
                    if (!Double.isNaN(value)) {
                        cb.call(value, name);
                    }
                }))
                .register(registry);
    }

    public static StorageBusMetrics get() {
        return INSTANCE;
    }

    public void commandDone(String command, String outcome, double seconds) {
        commandDuration.labelValues(command, outcome).observe(Math.max(0, seconds));
    }

    public void extendRoundTrip(double seconds) {
        extendRoundTrip.observe(Math.max(0, seconds));
    }

    public void extendAnswered(String outcome) {
        extends_.labelValues(outcome).inc();
    }

    public void driverError(String driver, String code) {
        driverErrors.labelValues(driver, code).inc();
    }

    /** An SPM term's write was refused by the storage: a newer term is in charge, this one stopped. */
    public void domainSecondsToFull(String domainId, long seconds) {
        secondsToFull.labelValues(domainId).set(seconds);
    }

    public void spmFenced(String pool) {
        spmFenced.labelValues(pool).inc();
    }

    public void spmTermStarted(String pool, long epoch) {
        spmEpoch.labelValues(pool).set(epoch);
        spmTerms.labelValues(pool).inc();
    }

    public void spmTermEnded(String pool) {
        spmEpoch.labelValues(pool).set(0);
    }

    public void maintenanceDecided(String outcome) {
        maintenanceDecisions.labelValues(outcome).inc();
    }

    public void guestPaused() {
        guestPauses.inc();
    }

    public void httpRequest(String method, int status, double seconds) {
        restRequests.labelValues(method, Integer.toString(status)).inc();
        restDuration.labelValues(method).observe(seconds);
    }

    public void managerActive(boolean active) {
        managerActive.set(active ? 1 : 0);
    }

    public void eventStreamClients(int clients) {
        eventStreamClients.set(clients);
    }

    public void eventStreamDropped(String reason) {
        eventStreamDrops.labelValues(reason).inc();
    }

    public void deadLettered() {
        deadLetters.inc();
    }

    /** Reports {@code lag} as consumer {@code name}'s lag until {@link #removeLag} (NaN: not known yet). */
    public void lag(String name, DoubleSupplier lag) {
        lagSources.put(name, lag);
    }

    public void removeLag(String name) {
        lagSources.remove(name);
    }

    /** The Prometheus text exposition of every series. */
    public String scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(java.nio.charset.StandardCharsets.UTF_8);
    }

    public static String contentType() {
        return PrometheusTextFormatWriter.CONTENT_TYPE;
    }
}
