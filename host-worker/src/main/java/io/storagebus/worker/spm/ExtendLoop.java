package io.storagebus.worker.spm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import io.storagebus.bus.ConsumerLoop;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.FencedException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.thin.ExtendPolicy;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.InterruptException;
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
    /**
     * Reports of different volumes handled at once: an extend is mostly waiting (the domain's
     * lock, the file system, a process for LVM), so one at a time made a boot storm queue.
     */
    static final int PARALLEL_EXTENDS = 8;

    private final WorkerConfig config;
    private final SpmTerm term;
    private final MessageCodec codec = MessageCodec.standard();
    private final ConsumerLoop loop;
    private final ExecutorService extenders;
    private final VolumeExtender extender;
    private final DomainAccounts accounts;

    ExtendLoop(WorkerConfig config, SpmTerm term, DriverRegistry drivers) {
        this.config = config;
        this.term = term;
        this.extender = new VolumeExtender(config, term, drivers);
        this.accounts = new DomainAccounts(config, term, drivers);
        AtomicInteger threads = new AtomicInteger();
        this.extenders = Executors.newFixedThreadPool(PARALLEL_EXTENDS, r -> {
            Thread t = new Thread(r, "spm-" + term.pool() + "-extend-" + threads.incrementAndGet() + "-epoch-" + term.epoch());
            t.setDaemon(true);
            return t;
        });
        this.loop = new ConsumerLoop("spm-" + term.pool() + "-extends-epoch-" + term.epoch(), this::open,
                FencedException.class::isInstance, fenced -> {
                    if (fenced != null) {
                        LOG.warn("epoch {}: fenced by a newer SPM, no more extends: {}", term.epoch(), fenced.getMessage());
                        StorageBusMetrics.get().spmFenced(term.pool());
                    }
                });
    }

    void start() {
        StorageBusMetrics.get().lag("spm-extends", loop.lag());
        accounts.start();
        loop.start();
    }

    void stop() {
        accounts.close();
        loop.close(STOP_WAIT);
        extenders.shutdownNow();
        StorageBusMetrics.get().removeLag("spm-extends");
    }

    /**
     * Reads the pool's watermarks and answers them. Offsets trail the answers: committed only
     * after a flush, and not after every poll, so that committing never holds up the next reports.
     */
    private ConsumerLoop.Session open(CountDownLatch closed) {
        ShardedProducer producer = new ShardedProducer(this::producerProps);
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerProps());
        HostTopicMetadata hostTopics = new HostTopicMetadata(producer::producerOf, "spm-" + term.pool() + "-extends-epoch-" + term.epoch());
        ConsumerLoop.Session session = new ConsumerLoop.Session() {
            long committedAt = System.nanoTime();
            boolean uncommitted;

            @Override
            public KafkaConsumer<String, byte[]> consumer() {
                return consumer;
            }

            @Override
            public Duration pollTimeout() {
                return uncommitted ? COMMIT_EVERY : Duration.ofSeconds(1);
            }

            @Override
            public void polled(ConsumerRecords<String, byte[]> records) {
                List<ProducerRecord<String, byte[]>> answers = handleAll(coalesce(records, producer));
                hostTopics.awaitKnown(answers.stream().map(ProducerRecord::topic).collect(Collectors.toSet()));
                answers.forEach(producer::send);
                extender.forecasts().forEach(producer::send);
                uncommitted |= !records.isEmpty();
                if (uncommitted && System.nanoTime() - committedAt >= COMMIT_EVERY.toNanos()) {
                    producer.flush();
                    consumer.commitAsync();
                    committedAt = System.nanoTime();
                    uncommitted = false;
                }
            }

            @Override
            public void close() {
                hostTopics.close();
                consumer.close(Duration.ofSeconds(5));
                producer.close(Duration.ofSeconds(5));
            }
        };
        try {
            String topic = Topics.watermarks(term.pool());
            consumer.assign(KafkaClients.partitionsOf(consumer, topic, closed));
            LOG.info("epoch {}: extending volumes on reports from {}", term.epoch(), topic);
            hostTopics.prefetch(this::hostTopicNames);
            return session;
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /**
     * One report per volume and domain (a live move's target is reported in its own domain while
     * the guest still writes to the source): the furthest write, the fastest rate, paused if any
     * report says so.
     */
    private List<VolumeWatermark> coalesce(ConsumerRecords<String, byte[]> records, ShardedProducer producer) {
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
            latest.merge(report.getDomain().getId() + "/" + report.getVolumeId(), report, (a, b) -> VolumeWatermark.newBuilder(b)
                    .setHighestOffset(Math.max(a.getHighestOffset(), b.getHighestOffset()))
                    .setWriteRate(Math.max(a.getWriteRate(), b.getWriteRate()))
                    .setAllocation(Math.max(a.getAllocation(), b.getAllocation()))
                    .setPaused(b.getPaused() || a.getPaused() && a.getHostId().equals(b.getHostId()))
                    .build());
        }
        return new ArrayList<>(latest.values());
    }

    /**
     * Handles a poll's reports, one per volume, {@link #PARALLEL_EXTENDS} at a time, and returns
     * the answers in the reports' order. A volume's next report is in a later poll, handled only
     * after this one's: a volume's extends stay in order. A fence found by any extend ends the
     * loop, as it did one at a time.
     */
    private List<ProducerRecord<String, byte[]>> handleAll(List<VolumeWatermark> reports) {
        if (reports.size() <= 1) {
            return reports.isEmpty() ? List.of() : extender.answer(reports.get(0));
        }
        List<Future<List<ProducerRecord<String, byte[]>>>> answers = new ArrayList<>(reports.size());
        for (VolumeWatermark report : reports) {
            answers.add(extenders.submit(() -> extender.answer(report)));
        }
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>(reports.size());
        for (Future<List<ProducerRecord<String, byte[]>>> answer : answers) {
            try {
                out.addAll(answer.get());
            } catch (ExecutionException e) {
                answers.forEach(a -> a.cancel(false));
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                answers.forEach(a -> a.cancel(false));
                throw new InterruptException(e);
            }
        }
        return out;
    }

    /** Every host topic this SPM may answer to, as the cluster lists them to it. */
    private Collection<String> hostTopicNames() {
        try (Admin admin = KafkaClients.admin(config.spmKafka())) {
            return admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(t -> t.startsWith(Topics.HOST_TOPIC_PREFIX) && t.endsWith(".commands")).toList();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptException(e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot list the cluster's topics: " + e.getMessage(), e);
        }
    }

    private Properties producerProps(int shard) {
        Properties p = KafkaClients.producer(config.spmKafka());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "spm-" + term.pool() + "-extends-" + config.hostId() + "-e" + term.epoch() + "-" + shard);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        // A poll's answers go to as many host topics as it had hosts: sent as they are added, they left in
        // many small requests; 2 ms lets a poll's answers share a few.
        p.put(ProducerConfig.LINGER_MS_CONFIG, "2");
        // Every host's topic stays known for an hour, not 5 minutes: a storm after a quiet spell would
        // otherwise fetch a thousand topics' metadata again, one merge of the whole cluster view each.
        p.put(ProducerConfig.METADATA_MAX_IDLE_CONFIG, "3600000");
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
