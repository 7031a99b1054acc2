package io.storagebus.metrics;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.junit.jupiter.api.Test;

class StorageBusMetricsTest {
    @Test
    void seriesAppearInTheTextExpositionWithTheirLabels() {
        StorageBusMetrics metrics = new StorageBusMetrics(new PrometheusRegistry());
        metrics.commandDone("CreateVolume", "ok", 0.02);
        metrics.extendRoundTrip(0.015);
        metrics.spmTermStarted("default", 7);
        metrics.driverError("blockfile", "NO_SPACE");
        metrics.lag("host-commands", () -> 3);
        metrics.lag("unknown-yet", () -> Double.NaN);

        String text = metrics.scrape();

        assertTrue(text.contains("storagebus_command_duration_seconds_count{command=\"CreateVolume\",outcome=\"ok\"} 1"), text);
        assertTrue(text.contains("storagebus_command_duration_seconds_bucket{command=\"CreateVolume\",outcome=\"ok\",le=\"0.025\"} 1"), text);
        assertTrue(text.contains("storagebus_extend_round_trip_seconds_count 1"), text);
        assertTrue(text.contains("storagebus_spm_epoch{pool=\"default\"} 7.0"), text);
        assertTrue(text.contains("storagebus_spm_changes_total{pool=\"default\"} 1.0"), text);
        assertTrue(text.contains("storagebus_driver_errors_total{code=\"NO_SPACE\",driver=\"blockfile\"} 1.0"), text);
        assertTrue(text.contains("storagebus_consumer_lag_records{consumer=\"host-commands\"} 3.0"), text);
        assertFalse(text.contains("unknown-yet"), "a lag not known yet is left out, not reported as NaN");
    }
}
