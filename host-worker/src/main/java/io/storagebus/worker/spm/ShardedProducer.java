package io.storagebus.worker.spm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * The extend loop's producers, each record sent by the one its topic hashes to. A Kafka
 * producer's sender visits every partition the producer has written on each of its loops, and a
 * send that starts a batch (every answer to a host, each host having its own topic) wakes it for
 * another loop: one producer answering a thousand hosts took 35 % of a boot storm's CPU samples
 * there (JFR), more than the broker. With {@link #SHARDS} producers a loop visits an eighth of
 * the host topics.
 */
final class ShardedProducer implements AutoCloseable {
    static final int SHARDS = 8;

    private final List<KafkaProducer<String, byte[]>> shards;

    /** @param properties the properties of shard {@code i}'s producer */
    ShardedProducer(IntFunction<Properties> properties) {
        List<KafkaProducer<String, byte[]>> made = new ArrayList<>(SHARDS);
        try {
            for (int i = 0; i < SHARDS; i++) {
                made.add(new KafkaProducer<>(properties.apply(i)));
            }
        } catch (RuntimeException e) {
            made.forEach(p -> p.close(Duration.ZERO));
            throw e;
        }
        this.shards = List.copyOf(made);
    }

    /** The producer that sends to {@code topic}: always the same one. */
    KafkaProducer<String, byte[]> producerOf(String topic) {
        return shards.get(Math.floorMod(topic.hashCode(), SHARDS));
    }

    Future<RecordMetadata> send(ProducerRecord<String, byte[]> record) {
        return producerOf(record.topic()).send(record);
    }

    /** Returns once every record sent so far by any shard is acknowledged or failed. */
    void flush() {
        shards.forEach(KafkaProducer::flush);
    }

    void close(Duration timeout) {
        shards.forEach(p -> p.close(timeout));
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(5));
    }
}
