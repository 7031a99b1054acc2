package io.storagebus.bus;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Settings every StorageBus Kafka client shares: string keys, single-object-encoded byte values
 * (decoded by {@link MessageCodec}, so an undecodable record is the caller's to dead-letter,
 * not an exception inside {@code poll}), and only committed records.
 */
public final class KafkaClients {
    private static final Duration TOPIC_METADATA_WAIT = Duration.ofSeconds(30);
    private static final Duration METADATA_RETRY = Duration.ofMillis(100);

    private KafkaClients() {
    }

    /** {@link #producer(KafkaConnection)} to a broker that needs no security. */
    public static Properties producer(String bootstrapServers) {
        return producer(KafkaConnection.plaintext(bootstrapServers));
    }

    /** An idempotent producer: acks from all replicas, retries never duplicate a record. */
    public static Properties producer(KafkaConnection kafka) {
        Properties p = connection(kafka);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return p;
    }

    /** A transactional producer: what {@link #producer} is, under a transactional id. */
    public static Properties transactionalProducer(KafkaConnection kafka, String transactionalId) {
        Properties p = producer(kafka);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        return p;
    }

    /** {@link #consumer(KafkaConnection)} of a broker that needs no security. */
    public static Properties consumer(String bootstrapServers) {
        return consumer(KafkaConnection.plaintext(bootstrapServers));
    }

    /** A consumer that sees committed records only and never commits offsets on its own. */
    public static Properties consumer(KafkaConnection kafka) {
        Properties p = connection(kafka);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return p;
    }

    /** An admin client (topics, ACLs) with the connection's identity. */
    public static Admin admin(KafkaConnection kafka) {
        return Admin.create(connection(kafka));
    }

    private static Properties connection(KafkaConnection kafka) {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.putAll(kafka.security());
        return p;
    }

    /** {@link #partitionsOf(Consumer, String, CountDownLatch)} for a reader nothing stops early. */
    public static List<TopicPartition> partitionsOf(Consumer<?, ?> consumer, String topic) {
        return partitionsOf(consumer, topic, new CountDownLatch(1));
    }

    /**
     * The topic's partitions, waiting for the broker to know it. A topic created a moment ago may
     * not be in the metadata of the broker the consumer asks yet; {@code partitionsFor} then
     * answers an empty list, and assigning that would consume nothing, silently, forever. The
     * wait ends at once with a {@link WakeupException} when {@code stop} is counted down (the
     * caller is closing), and with {@link UnknownTopicOrPartitionException} after 30 s.
     */
    public static List<TopicPartition> partitionsOf(Consumer<?, ?> consumer, String topic, CountDownLatch stop) {
        return partitionsOf(consumer, topic, stop, TOPIC_METADATA_WAIT);
    }

    /**
     * What a compacted topic holds now: each key's latest value, read from the beginning to the
     * end offsets found when the read began (a key whose latest record is a tombstone is absent).
     * Stops early, with what it has read, when {@code stop} is counted down.
     */
    public static Map<String, byte[]> latestByKey(Consumer<String, byte[]> reader, String topic, CountDownLatch stop) {
        List<TopicPartition> partitions = partitionsOf(reader, topic, stop);
        reader.assign(partitions);
        reader.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = reader.endOffsets(partitions);
        Map<String, byte[]> latest = new LinkedHashMap<>();
        while (stop.getCount() > 0 && end.entrySet().stream().anyMatch(e -> reader.position(e.getKey()) < e.getValue())) {
            for (ConsumerRecord<String, byte[]> r : reader.poll(Duration.ofMillis(500))) {
                if (r.value() == null) {
                    latest.remove(r.key());
                } else {
                    latest.put(r.key(), r.value());
                }
            }
        }
        return latest;
    }

    /** {@link #partitionsOf(Consumer, String, CountDownLatch)}, giving up after {@code wait}. */
    public static List<TopicPartition> partitionsOf(Consumer<?, ?> consumer, String topic, CountDownLatch stop, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        try {
            while (true) {
                List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                        .map(info -> new TopicPartition(topic, info.partition())).toList();
                if (!partitions.isEmpty()) {
                    return partitions;
                }
                if (System.nanoTime() > deadline) {
                    throw new UnknownTopicOrPartitionException("topic " + topic + " does not exist (waited "
                            + wait.toMillis() + " ms for it)");
                }
                if (stop.await(METADATA_RETRY.toMillis(), TimeUnit.MILLISECONDS)) {
                    throw new WakeupException();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptException(e);
        }
    }
}
