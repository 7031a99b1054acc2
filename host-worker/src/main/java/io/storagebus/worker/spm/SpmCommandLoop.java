package io.storagebus.worker.spm;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.leases.SpmTerm;
import io.storagebus.worker.WorkerConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consume-process-produce of a pool's SPM commands for one term, exactly once: the outputs of a
 * batch and the consumer offsets past it commit in one Kafka transaction. The transactional id
 * is the pool's, so the next SPM's {@code initTransactions} fences this one's producer at Kafka
 * as well: a deposed SPM cannot commit late writes even before it notices it was deposed.
 */
final class SpmCommandLoop {
    private static final Logger LOG = LoggerFactory.getLogger(SpmCommandLoop.class);
    private static final Duration STOP_WAIT = Duration.ofSeconds(30);

    private final WorkerConfig config;
    private final SpmTerm term;
    private final SpmCommandHandler handler;
    private final Thread thread;
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private volatile boolean running = true;
    private volatile KafkaConsumer<String, byte[]> consumer;

    SpmCommandLoop(WorkerConfig config, SpmTerm term, SpmCommandHandler handler) {
        this.config = config;
        this.term = term;
        this.handler = handler;
        this.thread = new Thread(this::run, "spm-" + term.pool() + "-epoch-" + term.epoch());
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Stops consuming at once and returns when no write of this term can follow. */
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
                if (thread.isAlive()) {
                    LOG.error("SPM loop of epoch {} did not stop within {}", term.epoch(), STOP_WAIT);
                }
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
                producer.initTransactions();
                String topic = Topics.spmCommands(term.pool());
                Set<TopicPartition> partitions = c.partitionsFor(topic).stream()
                        .map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toSet());
                c.assign(partitions);
                LOG.info("epoch {}: consuming {}", term.epoch(), topic);
                process(producer, c);
            } catch (WakeupException e) {
                // stop() was called
            } catch (ProducerFencedException | InvalidProducerEpochException e) {
                LOG.warn("epoch {}: fenced by a newer SPM, stopping: {}", term.epoch(), e.getMessage());
                running = false;
            } catch (KafkaException e) {
                if (running) {
                    LOG.warn("epoch {}: Kafka error, restarting the SPM loop: {}", term.epoch(), e.toString());
                    pause();
                }
            } finally {
                consumer = null;
            }
        }
        LOG.info("epoch {}: SPM loop stopped", term.epoch());
    }

    private void process(KafkaProducer<String, byte[]> producer, KafkaConsumer<String, byte[]> c) {
        while (running) {
            ConsumerRecords<String, byte[]> records = c.poll(Duration.ofSeconds(1));
            if (records.isEmpty() || !running) {
                continue;
            }
            producer.beginTransaction();
            Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
            try {
                for (ConsumerRecord<String, byte[]> record : records) {
                    List<ProducerRecord<String, byte[]>> outputs = handler.handle(record, term);
                    outputs.forEach(producer::send);
                    next.put(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
                    if (!running) {
                        break;
                    }
                }
                if (!running) {
                    // The term ended while we worked: publish nothing of it.
                    producer.abortTransaction();
                    return;
                }
                producer.sendOffsetsToTransaction(next, c.groupMetadata());
                producer.commitTransaction();
            } catch (ProducerFencedException | InvalidProducerEpochException | WakeupException e) {
                throw e;
            } catch (KafkaException e) {
                // Nothing of the batch is visible; rewind so the commands run again (drivers are
                // idempotent by volume id, so a repeated create finds its volume).
                LOG.warn("epoch {}: transaction failed, retrying the batch: {}", term.epoch(), e.toString());
                producer.abortTransaction();
                throw e;
            }
        }
    }

    /** Backs off before a retry, but wakes at once when the term ends. */
    private void pause() {
        try {
            stopRequested.await(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    private Properties producerProps() {
        Properties p = KafkaClients.transactionalProducer(config.bootstrapServers(), "storagebus-spm-" + term.pool());
        // Long enough for the slowest driver operation of a batch (qemu-img, preallocation).
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId());
        return p;
    }

    private Properties consumerProps() {
        Properties p = KafkaClients.consumer(config.bootstrapServers());
        // The group only stores offsets; partitions are assigned, not balanced, so a frozen old
        // SPM cannot hold a rebalance up and failover does not wait for a group timeout.
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "storagebus-spm-" + term.pool());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "100");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId());
        return p;
    }

    private String clientId() {
        return "spm-" + term.pool() + "-" + config.hostId() + "-e" + term.epoch();
    }
}
