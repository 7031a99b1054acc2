package io.storagebus.worker.spm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.ConsumerLag;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.BlockSizing;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.CapacityAlert;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.VolumeExtendFailed;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.thin.ExtendPolicy;
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
 * The SPM's answer to hosts' watermark reports, for one term: coalesce the reports of a poll
 * per volume, extend by the {@link ExtendPolicy} after checking the domain's free space, and tell
 * the reporting host to refresh. This path is kept apart from the command loop and its
 * transactions because it is latency-bound and idempotent: an extend grows a volume to at least
 * a size, so a report handled twice (after a failover) extends once and refreshes twice. Offsets
 * are committed after the answers are acknowledged, so a report is never dropped; the storage
 * fence (the term's epoch) keeps a deposed SPM from extending.
 */
final class ExtendLoop {
    private static final Logger LOG = LoggerFactory.getLogger(ExtendLoop.class);
    private static final Duration STOP_WAIT = Duration.ofSeconds(2);
    private static final Duration COMMIT_EVERY = Duration.ofMillis(200);

    private final WorkerConfig config;
    private final SpmTerm term;
    private final DriverRegistry drivers;
    private final ExtendPolicy policy;
    private final MessageCodec codec = MessageCodec.standard();
    private final Thread thread;
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private volatile boolean running = true;
    private volatile KafkaConsumer<String, byte[]> consumer;
    private final ConsumerLag lag = new ConsumerLag();

    ExtendLoop(WorkerConfig config, SpmTerm term, DriverRegistry drivers) {
        this.config = config;
        this.term = term;
        this.drivers = drivers;
        this.policy = config.extendPolicy();
        this.thread = new Thread(this::run, "spm-" + term.pool() + "-extends-epoch-" + term.epoch());
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    void stop() {
        running = false;
        stopRequested.countDown();
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (Thread.currentThread() != thread) {
            try {
                thread.join(STOP_WAIT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        while (running) {
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps());
                 KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(consumerProps())) {
                consumer = c;
                if (!running) {
                    return;
                }
                String topic = Topics.watermarks(term.pool());
                c.assign(KafkaClients.partitionsOf(c, topic, stopRequested));
                StorageBusMetrics.get().lag("spm-extends", lag);
                LOG.info("epoch {}: extending volumes on reports from {}", term.epoch(), topic);
                long committedAt = System.nanoTime();
                boolean uncommitted = false;
                while (running) {
                    ConsumerRecords<String, byte[]> records = c.poll(uncommitted ? COMMIT_EVERY : Duration.ofSeconds(1));
                    lag.track(c);
                    for (VolumeWatermark report : coalesce(records, producer)) {
                        handle(report).forEach(producer::send);
                    }
                    uncommitted |= !records.isEmpty();
                    // Offsets trail the answers: committed only after a flush, and not after every
                    // poll, so that committing never holds up the next reports.
                    if (uncommitted && System.nanoTime() - committedAt >= COMMIT_EVERY.toNanos()) {
                        producer.flush();
                        c.commitAsync();
                        committedAt = System.nanoTime();
                        uncommitted = false;
                    }
                }
            } catch (WakeupException e) {
                // stop() was called
            } catch (SpmFencedException e) {
                LOG.warn("epoch {}: fenced by a newer SPM, no more extends: {}", term.epoch(), e.getMessage());
                running = false;
            } catch (KafkaException e) {
                if (running) {
                    LOG.warn("epoch {}: Kafka error in the extend loop, restarting it: {}", term.epoch(), e.toString());
                    backOff();
                }
            } finally {
                StorageBusMetrics.get().removeLag("spm-extends");
                consumer = null;
            }
        }
    }

    /** Waits a second before a restart, so an unreachable Kafka is not hammered; wakes at once when the term ends. */
    private void backOff() {
        try {
            stopRequested.await(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    /** One report per volume: the furthest write, the fastest rate, paused if any report says so. */
    private List<VolumeWatermark> coalesce(ConsumerRecords<String, byte[]> records, KafkaProducer<String, byte[]> producer) {
        Map<String, VolumeWatermark> latest = new LinkedHashMap<>();
        for (ConsumerRecord<String, byte[]> record : records) {
            VolumeWatermark report;
            try {
                if (!(codec.decode(record.value()) instanceof VolumeWatermark w)) {
                    producer.send(Records.deadLetter(record, "not a VolumeWatermark", config.issuer()));
                    continue;
                }
                report = w;
            } catch (UndecodableRecordException e) {
                producer.send(Records.deadLetter(record, e.getMessage(), config.issuer()));
                continue;
            }
            latest.merge(report.getVolumeId(), report, (a, b) -> VolumeWatermark.newBuilder(b)
                    .setHighestOffset(Math.max(a.getHighestOffset(), b.getHighestOffset()))
                    .setWriteRate(Math.max(a.getWriteRate(), b.getWriteRate()))
                    .setAllocation(Math.max(a.getAllocation(), b.getAllocation()))
                    .setPaused(b.getPaused() || a.getPaused() && a.getHostId().equals(b.getHostId()))
                    .build());
        }
        return new ArrayList<>(latest.values());
    }

    private List<ProducerRecord<String, byte[]>> handle(VolumeWatermark report) {
        VolumeUri uri = new VolumeUri(report.getDomain().getId(), report.getVolumeId());
        DomainContext domain = new DomainContext(report.getDomain().getId(), report.getDomain().getProperties(), term.epoch());
        long wanted = report.getAllocation();
        try {
            StorageDriver driver = drivers.find(report.getDomain().getDriver()).orElseThrow(() -> new DriverException(
                    DriverException.Code.UNSUPPORTED, "host " + config.hostId() + " has no driver '" + report.getDomain().getDriver() + "'"));
            VolumeInfo info = driver.info(domain, uri);
            long current = info.allocatedSize();
            long ceiling = BlockSizing.maxSize(info.format(), info.virtualSize(), Sizes.MIB);
            if (current < ceiling && policy.needsExtend(current, report.getHighestOffset(), report.getWriteRate())) {
                wanted = Math.min(policy.target(current, report.getHighestOffset(), report.getWriteRate()), ceiling);
                OptionalLong free = driver.freeSpace(domain);
                if (free.isPresent() && free.getAsLong() < wanted - current) {
                    throw new DriverException(DriverException.Code.NO_SPACE, "domain " + domain.id() + " has " + free.getAsLong()
                            + " bytes free; extending volume " + uri + " to " + wanted + " bytes needs " + (wanted - current));
                }
                info = driver.extend(domain, uri, wanted);
                StorageBusMetrics.get().extendAnswered("extended");
                LOG.debug("epoch {}: extended {} from {} to {} bytes", term.epoch(), uri, current, info.allocatedSize());
            } else {
                StorageBusMetrics.get().extendAnswered("unchanged");
            }
            // Answered even when nothing grew: the host may not have seen an earlier extend yet.
            Envelope envelope = Envelopes.causedBy(report.getEnvelope(), config.issuer(), term.epoch());
            return List.of(Records.of(Topics.hostCommands(report.getHostId()), report.getVolumeId(), RefreshVolume.newBuilder()
                    .setEnvelope(envelope).setVolumeId(report.getVolumeId()).setDomain(report.getDomain()).setHostId(report.getHostId())
                    .setPreviousAllocation(report.getAllocation()).setAllocation(info.allocatedSize())
                    .setFullyAllocated(info.allocatedSize() >= ceiling).setReportedAt(report.getEnvelope().getTimestamp()).build()));
        } catch (DriverException e) {
            if (e.code() == DriverException.Code.FENCED) {
                throw new SpmFencedException("epoch " + term.epoch() + " fenced by the storage: " + e.getMessage(), e);
            }
            return failed(report, wanted, e);
        }
    }

    private List<ProducerRecord<String, byte[]>> failed(VolumeWatermark report, long wanted, DriverException e) {
        StorageBusMetrics.get().extendAnswered("failed");
        StorageBusMetrics.get().driverError(report.getDomain().getDriver(), e.code().name());
        LOG.error("epoch {}: cannot extend volume {} for host {}: {} {}", term.epoch(), report.getVolumeId(), report.getHostId(),
                e.code(), e.getMessage());
        Envelope envelope = Envelopes.causedBy(report.getEnvelope(), config.issuer(), term.epoch());
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        out.add(Records.of(Topics.EVENTS, report.getVolumeId(), VolumeExtendFailed.newBuilder().setEnvelope(envelope)
                .setVolumeId(report.getVolumeId()).setDomainId(report.getDomain().getId()).setHostId(report.getHostId())
                .setAllocation(report.getAllocation()).setRequested(wanted).setCode(e.code().name()).setMessage(e.getMessage()).build()));
        if (e.code() == DriverException.Code.NO_SPACE) {
            long free = freeSpace(report);
            out.add(Records.of(Topics.EVENTS, report.getDomain().getId(), CapacityAlert.newBuilder()
                    .setEnvelope(Envelopes.causedBy(report.getEnvelope(), config.issuer(), term.epoch()))
                    .setDomainId(report.getDomain().getId()).setFreeBytes(free).setNeededBytes(Math.max(0, wanted - report.getAllocation()))
                    .setVolumeId(report.getVolumeId())
                    .setMessage("domain " + report.getDomain().getId() + " cannot extend volume " + report.getVolumeId()
                            + (report.getPaused() ? "; its guest is paused" : "") + ": " + e.getMessage()).build()));
        }
        return out;
    }

    private long freeSpace(VolumeWatermark report) {
        try {
            return drivers.find(report.getDomain().getDriver()).orElseThrow()
                    .freeSpace(new DomainContext(report.getDomain().getId(), report.getDomain().getProperties())).orElse(-1);
        } catch (DriverException | RuntimeException e) {
            return -1;
        }
    }

    private Properties producerProps() {
        Properties p = KafkaClients.producer(config.spmKafka());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "spm-" + term.pool() + "-extends-" + config.hostId() + "-e" + term.epoch());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        return p;
    }

    private Properties consumerProps() {
        Properties p = KafkaClients.consumer(config.spmKafka());
        // Offsets only: assigned partitions, so a frozen old SPM cannot hold up the new one.
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "storagebus-spm-" + term.pool() + "-extends");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "spm-" + term.pool() + "-extends-" + config.hostId() + "-e" + term.epoch());
        return p;
    }
}
