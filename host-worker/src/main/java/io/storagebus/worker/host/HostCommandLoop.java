package io.storagebus.worker.host;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import io.storagebus.bus.ConsumerLoop;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.VolumeLease;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.worker.watchdog.WatchdogFeed;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.subscriber.Vote;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.thin.VolumeMonitor;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
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
    private final ConsumerLoop loop;
    private final Lifecycle lifecycle = new Lifecycle("host command loop");
    private final KafkaProducer<String, byte[]> producer;
    private final VolumeMonitor monitor;
    private final VolumeLeases leases;
    private final WatchdogFeed watchdog;

    public HostCommandLoop(WorkerConfig config, DriverRegistry drivers, VolumeLeases leases) {
        this.config = config;
        Properties p = KafkaClients.producer(config.kafka());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "host-" + config.hostId());
        this.producer = new KafkaProducer<>(p);
        this.leases = leases;
        this.watchdog = new WatchdogFeed(config.watchdogDirectory(), Duration.ofMillis(config.zooKeeper().sessionTimeoutMs()), leases);
        this.monitor = new VolumeMonitor(config, drivers, producer::send, watchdog);
        this.handler = new HostCommandHandler(config, drivers, leases, monitor, producer::send);
        this.loop = new ConsumerLoop("host-commands-" + config.hostId(), this::open);
    }

    public void start() {
        lifecycle.start();
        monitor.start();
        try {
            watchdog.start(new WatchdogFeed.Listener() {
                @Override
                public void watchdogDown(String reason) {
                    handler.fenceAllGuests(leases.held(), reason + ": a frozen worker could not stop them");
                    producer.flush();
                }

                @Override
                public void watchdogUp() {
                    monitor.unfence(List.of(VolumeMonitor.WATCHDOG_GONE));
                }
            });
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot use the watchdog directory " + config.watchdogDirectory(), e);
        }
        StorageBusMetrics.get().lag("host-commands", loop.lag());
        loop.start();
    }

    /** For the lease listener: the guests writing under these leases stop now (see {@link VolumeMonitor#fence}). */
    public void leasesInDoubt(List<VolumeLease> leases) {
        handler.fenceGuests(leases, "the host's ZooKeeper session is in doubt (ZooKeeper unreachable): the lease may be granted "
                + "elsewhere once the session times out");
        producer.flush();
    }

    /** For the lease listener: the session survived, so guests stopped for these leases run again. */
    public void leasesConfirmed(List<VolumeLease> leases) {
        monitor.unfence(leases.stream().map(VolumeLease::volumeId).toList());
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

    /** A consumer of this host's command topic; a batch's outputs are flushed before its offsets are committed. */
    private ConsumerLoop.Session open(CountDownLatch closed) {
        Properties p = KafkaClients.consumer(config.kafka());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "storagebus-host-" + config.hostId());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "host-" + config.hostId());
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p);
        ConsumerLoop.Session session = ConsumerLoop.session(c, records -> {
            for (ConsumerRecord<String, byte[]> record : records) {
                handler.handle(record).forEach(producer::send);
            }
            if (!records.isEmpty()) {
                producer.flush();
                c.commitSync();
            }
        });
        try {
            c.assign(KafkaClients.partitionsOf(c, Topics.hostCommands(config.hostId()), closed));
            return session;
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /** Whether the loop is reading its host topic now (false while it restarts after a Kafka error). */
    public boolean isConsuming() {
        return loop.isConsuming();
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        loop.close();
        handler.close();
        watchdog.close();
        monitor.close();
        producer.close(Duration.ofSeconds(5));
    }
}
