package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.bus.ConsumerLoop;
import io.storagebus.bus.KafkaClients;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one consumer loop every StorageBus consumer runs on, against a real broker. */
class ConsumerLoopIT {
    private static final String TOPIC = "consumer-loop-it";
    private static InProcessKafka kafka;

    @BeforeAll
    static void start(@TempDir Path dir) throws Exception {
        kafka = new InProcessKafka(dir);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(TOPIC, 1, (short) 1))).all().get();
        }
        Properties p = KafkaClients.producer(kafka.bootstrapServers());
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>(TOPIC, "k" + i, new byte[] {(byte) i}));
            }
        }
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    /** A session reading the topic from its beginning; throws {@code failure} on a poll with records while {@code failures} lasts. */
    private static ConsumerLoop.Session reader(CountDownLatch closed, Set<String> seen, AtomicInteger failures, RuntimeException failure) {
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaClients.consumer(kafka.bootstrapServers()));
        List<TopicPartition> partitions = KafkaClients.partitionsOf(c, TOPIC, closed);
        c.assign(partitions);
        c.seekToBeginning(partitions);
        return ConsumerLoop.session(c, records -> {
            if (!records.isEmpty() && failures.getAndDecrement() > 0) {
                throw failure;
            }
            records.forEach(r -> seen.add(r.key()));
        });
    }

    @Test
    void aFailedSessionIsClosedAndANewOneReadsOn() {
        Set<String> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger opened = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger(1);
        try (ConsumerLoop loop = new ConsumerLoop("it-restart", closed -> {
            opened.incrementAndGet();
            return reader(closed, seen, failures, new KafkaException("the broker went away"));
        })) {
            loop.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> seen.size() == 10);
            assertEquals(2, opened.get(), "one session failed, the next read everything");
            assertTrue(loop.isConsuming());
        }
    }

    @Test
    void aFatalFailureEndsTheLoopAndIsHandedOver() {
        AtomicReference<RuntimeException> ended = new AtomicReference<>();
        CountDownLatch done = new CountDownLatch(1);
        IllegalStateException fenced = new IllegalStateException("fenced");
        ConsumerLoop loop = new ConsumerLoop("it-fatal", closed -> reader(closed, ConcurrentHashMap.newKeySet(), new AtomicInteger(1), fenced),
                IllegalStateException.class::isInstance, e -> {
                    ended.set(e);
                    done.countDown();
                });
        loop.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> done.getCount() == 0);
        assertInstanceOf(IllegalStateException.class, ended.get());
        await().atMost(Duration.ofSeconds(5)).until(() -> !loop.isRunning());
        assertFalse(loop.isConsuming());
        loop.close();
    }

    @Test
    void aWakeupCutsALongPollShortAndTheSessionGoesOn() {
        AtomicInteger emptyPolls = new AtomicInteger();
        try (ConsumerLoop loop = new ConsumerLoop("it-wakeup", closed -> {
            KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaClients.consumer(kafka.bootstrapServers()));
            List<TopicPartition> partitions = KafkaClients.partitionsOf(c, TOPIC, closed);
            c.assign(partitions);
            c.seekToEnd(partitions);
            ConsumerLoop.Session plain = ConsumerLoop.session(c, records -> {
                if (records.isEmpty()) {
                    emptyPolls.incrementAndGet();
                }
            });
            return new ConsumerLoop.Session() {
                @Override
                public KafkaConsumer<String, byte[]> consumer() {
                    return c;
                }

                @Override
                public void polled(ConsumerRecords<String, byte[]> records) {
                    plain.polled(records);
                }

                @Override
                public Duration pollTimeout() {
                    return Duration.ofMinutes(5);
                }

                @Override
                public void close() {
                    plain.close();
                }
            };
        })) {
            loop.start();
            await().atMost(Duration.ofSeconds(30)).until(loop::isConsuming);
            int before = emptyPolls.get();
            loop.wakeup();
            await().atMost(Duration.ofSeconds(10)).until(() -> emptyPolls.get() > before);
            assertTrue(loop.isConsuming(), "a wakeup is not a stop");
        }
    }

    @Test
    void closingEndsAWaitForATopicThatIsNotThere() {
        ConsumerLoop loop = new ConsumerLoop("it-close", closed -> {
            try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaClients.consumer(kafka.bootstrapServers()))) {
                KafkaClients.partitionsOf(c, "no-such-topic", closed);
            }
            throw new AssertionError("the topic does not exist");
        });
        loop.start();
        await().pollDelay(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(loop::isRunning);
        // The metadata wait gives up after 30 s on its own: ending within 10 s is the close's doing.
        assertTrue(loop.close(Duration.ofSeconds(10)), "the loop's thread ended");
    }
}
