package io.storagebus.worker.host;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.ConsumerLag;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.VolumeLease;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.subscriber.Vote;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.thin.VolumeMonitor;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consumes this host's command topic. Prepare and teardown are idempotent, so the loop is
 * at-least-once: the outputs of a batch are flushed before its offsets are committed.
 */
public final class HostCommandLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HostCommandLoop.class);

    private final WorkerConfig config;
    private final HostCommandHandler handler;
    private final Thread thread;
    private final Lifecycle lifecycle = new Lifecycle("host command loop");
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private volatile KafkaConsumer<String, byte[]> consumer;
    private final ConsumerLag lag = new ConsumerLag();
    private volatile boolean consuming;
    private final KafkaProducer<String, byte[]> producer;
    private final VolumeMonitor monitor;

    public HostCommandLoop(WorkerConfig config, DriverRegistry drivers, VolumeLeases leases) {
        this.config = config;
        Properties p = KafkaClients.producer(config.kafka());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "host-" + config.hostId());
        this.producer = new KafkaProducer<>(p);
        this.monitor = new VolumeMonitor(config, drivers, producer::send);
        this.handler = new HostCommandHandler(config, drivers, leases, monitor, producer::send);
        this.thread = new Thread(this::run, "host-commands-" + config.hostId());
        this.thread.setDaemon(true);
    }

    public void start() {
        lifecycle.start();
        monitor.start();
        thread.start();
    }

    /** For the lease listener: stop using the volume and publish that the lease is lost. */
    public void leaseLost(VolumeLease lease, String reason) {
        producer.send(handler.leaseLost(lease, reason));
        producer.flush();
    }

    /** This host's vote on a maintenance request (see {@link HostCommandHandler#maintenanceVote}). */
    public Vote maintenanceVote(MaintenanceRequested request) throws Exception {
        return handler.maintenanceVote(request);
    }

    private void run() {
        while (lifecycle.isStarted()) {
            Properties p = KafkaClients.consumer(config.kafka());
            p.put(ConsumerConfig.GROUP_ID_CONFIG, "storagebus-host-" + config.hostId());
            p.put(ConsumerConfig.CLIENT_ID_CONFIG, "host-" + config.hostId());
            try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p)) {
                consumer = c;
                if (!lifecycle.isStarted()) {
                    return;
                }
                String topic = Topics.hostCommands(config.hostId());
                c.assign(KafkaClients.partitionsOf(c, topic, stopRequested));
                StorageBusMetrics.get().lag("host-commands", lag);
                consuming = true;
                while (lifecycle.isStarted()) {
                    ConsumerRecords<String, byte[]> records = c.poll(Duration.ofSeconds(1));
                    lag.track(c);
                    for (ConsumerRecord<String, byte[]> record : records) {
                        List<ProducerRecord<String, byte[]>> outputs = handler.handle(record);
                        outputs.forEach(producer::send);
                    }
                    if (!records.isEmpty()) {
                        producer.flush();
                        c.commitSync();
                    }
                }
            } catch (WakeupException e) {
                // closing
            } catch (KafkaException e) {
                if (lifecycle.isStarted()) {
                    LOG.warn("host {}: Kafka error in the host command loop, restarting it: {}", config.hostId(), e.toString());
                    try {
                        stopRequested.await(1, TimeUnit.SECONDS);
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            } finally {
                consuming = false;
                consumer = null;
            }
        }
    }

    /** Whether the loop is reading its host topic now (false while it restarts after a Kafka error). */
    public boolean isConsuming() {
        return consuming;
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        stopRequested.countDown();
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        monitor.close();
        producer.close(Duration.ofSeconds(5));
    }
}
