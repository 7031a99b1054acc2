package io.storagebus.bus;

import java.util.function.DoubleSupplier;

import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.Metric;

/**
 * A consumer's largest lag over its partitions (records, in the last metrics window), readable
 * from any thread, such as a metrics scrape. The consumer's own metric is looked up on the
 * consumer's thread once (it appears after the first fetch), then read directly: Kafka's metrics
 * are safe to read from other threads, the consumer is not.
 */
public final class ConsumerLag implements DoubleSupplier {
    private volatile Consumer<?, ?> tracked;
    private volatile Metric metric;

    /** Call on the consumer's thread after a poll; free once the metric is found. */
    public void track(Consumer<?, ?> consumer) {
        if (tracked == consumer && metric != null) {
            return;
        }
        tracked = consumer;
        metric = consumer.metrics().entrySet().stream()
                .filter(e -> "records-lag-max".equals(e.getKey().name()) && "consumer-fetch-manager-metrics".equals(e.getKey().group())
                        && !e.getKey().tags().containsKey("topic"))
                .map(java.util.Map.Entry::getValue).findFirst().orElse(null);
    }

    /** NaN before the consumer has fetched. */
    @Override
    public double getAsDouble() {
        Metric m = metric;
        return m != null && m.metricValue() instanceof Double d && !d.isInfinite() ? d : Double.NaN;
    }
}
