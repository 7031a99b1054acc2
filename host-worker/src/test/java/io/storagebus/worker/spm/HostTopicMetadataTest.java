package io.storagebus.worker.spm;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.testkit.EmbeddedKafka;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Metric;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The extend producer learns host topics before it answers there: sends to topics fetched ahead
 * (at a term's start, or together for a poll) never wait for metadata on the sending thread, and
 * a topic that does not exist yet holds up its caller no longer than the producer's block time
 * and is fetched again when next asked for.
 */
class HostTopicMetadataTest {
    private static EmbeddedKafka kafka;
    private static Admin admin;

    @BeforeAll
    static void start(@TempDir Path dir) {
        kafka = new EmbeddedKafka(dir, EmbeddedKafka.freePort()).start();
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
    }

    @AfterAll
    static void stop() {
        admin.close();
        kafka.close();
    }

    @Test
    void sendsToPrefetchedTopicsNeverWaitForMetadata() throws Exception {
        List<String> topics = hostTopics("prefetched", 40);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps(10_000));
             HostTopicMetadata metadata = new HostTopicMetadata(topic -> producer, "test")) {
            metadata.prefetch(() -> topics);
            metadata.awaitKnown(topics);
            double waitedBefore = metadataWaitNanos(producer);
            for (String topic : topics) {
                producer.send(new ProducerRecord<>(topic, "v", new byte[] {1}));
            }
            producer.flush();
            assertEquals(waitedBefore, metadataWaitNanos(producer), "no send waited for a topic's metadata");
        }
    }

    @Test
    void aPollsNewTopicsAreFetchedTogetherBeforeItsAnswers() throws Exception {
        List<String> topics = hostTopics("polled", 40);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps(10_000));
             HostTopicMetadata metadata = new HostTopicMetadata(topic -> producer, "test")) {
            metadata.awaitKnown(topics);
            double waitedBefore = metadataWaitNanos(producer);
            topics.forEach(t -> producer.send(new ProducerRecord<>(t, "v", new byte[] {1})));
            producer.flush();
            assertEquals(waitedBefore, metadataWaitNanos(producer), "no send waited for a topic's metadata");
        }
    }

    @Test
    void aMissingTopicIsGivenUpOnAndFetchedAgainLater() throws Exception {
        String late = Topics.hostCommands("late-host");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps(500));
             HostTopicMetadata metadata = new HostTopicMetadata(topic -> producer, "test")) {
            long started = System.nanoTime();
            metadata.awaitKnown(List.of(late));
            assertTrue(System.nanoTime() - started < Duration.ofSeconds(5).toNanos(), "gave up after the producer's block time");
            Topics.ensure(admin, List.of(Topics.hostCommandTopic("late-host", (short) 1)));
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                metadata.awaitKnown(List.of(late));
                double waitedBefore = metadataWaitNanos(producer);
                producer.send(new ProducerRecord<>(late, "v", new byte[] {1})).get();
                return waitedBefore == metadataWaitNanos(producer);
            });
        }
    }

    /**
     * The extend loop's producers: a host topic always goes through the same one, which is the one
     * that fetched its metadata (no send waits), and flush returns with every record acknowledged.
     */
    @Test
    void shardedProducersSendEachTopicThroughTheOneThatLearnedIt() throws Exception {
        List<String> topics = hostTopics("sharded", 40);
        try (ShardedProducer producers = new ShardedProducer(shard -> producerProps(10_000));
             HostTopicMetadata metadata = new HostTopicMetadata(producers::producerOf, "test")) {
            metadata.awaitKnown(topics);
            Set<KafkaProducer<String, byte[]>> used = topics.stream().map(producers::producerOf).collect(Collectors.toSet());
            assertTrue(used.size() > 1, "40 host topics spread over several producers, got " + used.size());
            Map<KafkaProducer<String, byte[]>, Double> waitedBefore = used.stream()
                    .collect(Collectors.toMap(p -> p, HostTopicMetadataTest::metadataWaitNanos));
            List<Future<RecordMetadata>> sent = topics.stream()
                    .map(t -> producers.send(new ProducerRecord<>(t, "v", new byte[] {1}))).toList();
            producers.flush();
            for (int i = 0; i < topics.size(); i++) {
                assertTrue(sent.get(i).isDone(), "acknowledged by flush: " + topics.get(i));
                assertEquals(topics.get(i), sent.get(i).get().topic());
                assertSame(producers.producerOf(topics.get(i)), producers.producerOf(topics.get(i)));
            }
            used.forEach(p -> assertEquals(waitedBefore.get(p), metadataWaitNanos(p), "no send waited for a topic's metadata"));
        }
    }

    private static List<String> hostTopics(String prefix, int count) throws Exception {
        List<String> hosts = IntStream.range(0, count).mapToObj(i -> prefix + "-" + i).toList();
        Topics.ensure(admin, hosts.stream().map(h -> Topics.hostCommandTopic(h, (short) 1)).toList());
        return hosts.stream().map(Topics::hostCommands).toList();
    }

    private static Properties producerProps(int maxBlockMs) {
        Properties p = KafkaClients.producer(kafka.bootstrapServers());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, String.valueOf(maxBlockMs));
        return p;
    }

    private static double metadataWaitNanos(KafkaProducer<?, ?> producer) {
        return producer.metrics().entrySet().stream()
                .filter(e -> e.getKey().group().equals("producer-metrics") && e.getKey().name().equals("metadata-wait-time-ns-total"))
                .map(Map.Entry::getValue).map(Metric::metricValue).mapToDouble(v -> ((Number) v).doubleValue())
                .findFirst().orElseThrow(() -> new AssertionError("the producer has no metadata-wait-time-ns-total metric"));
    }
}
