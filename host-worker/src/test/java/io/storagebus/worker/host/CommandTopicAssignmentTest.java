package io.storagebus.worker.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.testkit.EmbeddedKafka;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A command loop assigns itself its topic's partitions. Asked before the broker knows the topic,
 * {@code partitionsFor} answers an empty list; the loops wait for the topic instead of assigning
 * nothing and never seeing a command (a host that ignored every prepare sent to it), and stop
 * waiting the moment they are closed.
 */
class CommandTopicAssignmentTest {
    private static EmbeddedKafka kafka;

    @BeforeAll
    static void start(@TempDir Path dir) {
        kafka = new EmbeddedKafka(dir, EmbeddedKafka.freePort()).start();
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    @Test
    void waitsForATopicCreatedAfterItAsked() throws Exception {
        String topic = Topics.hostCommands("late-host");
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(KafkaClients.consumer(kafka.bootstrapServers()));
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            assertTrue(consumer.partitionsFor(topic).isEmpty(), "the premise: an unknown topic has no partitions, and no error");
            CompletableFuture<List<TopicPartition>> assigned = CompletableFuture.supplyAsync(() -> KafkaClients.partitionsOf(consumer, topic));
            Topics.ensure(admin, List.of(Topics.hostCommandTopic("late-host", (short) 1)));
            assertEquals(List.of(new TopicPartition(topic, 0)), assigned.get());
        }
    }

    @Test
    void aTopicThatNeverComesIsATypedError() {
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(KafkaClients.consumer(kafka.bootstrapServers()))) {
            UnknownTopicOrPartitionException e = assertThrows(UnknownTopicOrPartitionException.class,
                    () -> KafkaClients.partitionsOf(consumer, "storagebus.nowhere", new CountDownLatch(1), Duration.ofMillis(500)));
            assertTrue(e.getMessage().contains("storagebus.nowhere"), e.getMessage());
        }
    }

    @Test
    void aLoopClosingWhileItWaitsStopsWaitingAtOnce() throws Exception {
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(KafkaClients.consumer(kafka.bootstrapServers()))) {
            CountDownLatch stop = new CountDownLatch(1);
            CompletableFuture<List<TopicPartition>> waiting = CompletableFuture.supplyAsync(
                    () -> KafkaClients.partitionsOf(consumer, "storagebus.nowhere", stop));
            stop.countDown();
            ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(5, TimeUnit.SECONDS));
            assertInstanceOf(WakeupException.class, e.getCause());
        }
    }
}
