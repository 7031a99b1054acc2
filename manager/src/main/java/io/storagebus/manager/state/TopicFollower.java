package io.storagebus.manager.state;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

import io.storagebus.bus.KafkaClients;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads topics from their beginning, then follows them, handing every record to one handler on
 * its own thread. What the manager knows is rebuilt this way on every start: it keeps no
 * database and commits no offsets.
 */
public final class TopicFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicFollower.class);

    private enum State { LATENT, STARTED, CLOSED }

    private final String bootstrapServers;
    private final String name;
    private final List<String> topics;
    private final Consumer<ConsumerRecord<String, byte[]>> handler;
    private final CompletableFuture<Void> caughtUp = new CompletableFuture<>();
    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
    private final CountDownLatch closed = new CountDownLatch(1);
    private final Thread thread;
    private volatile KafkaConsumer<String, byte[]> consumer;

    public TopicFollower(String bootstrapServers, String name, List<String> topics, Consumer<ConsumerRecord<String, byte[]>> handler) {
        this.bootstrapServers = bootstrapServers;
        this.name = name;
        this.topics = List.copyOf(topics);
        this.handler = handler;
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    public void start() {
        if (!state.compareAndSet(State.LATENT, State.STARTED)) {
            throw new IllegalStateException(name + " already started");
        }
        thread.start();
    }

    /** Completes, on the follower's thread, once every record that existed at start was handled. */
    public CompletableFuture<Void> caughtUp() {
        return caughtUp;
    }

    public boolean isCaughtUp() {
        return caughtUp.isDone() && !caughtUp.isCompletedExceptionally();
    }

    private void run() {
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaClients.consumer(bootstrapServers))) {
            consumer = c;
            if (state.get() == State.CLOSED) {
                return;
            }
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                partitions.addAll(KafkaClients.partitionsOf(c, topic, closed));
            }
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions);
            while (state.get() != State.CLOSED) {
                for (ConsumerRecord<String, byte[]> record : c.poll(Duration.ofSeconds(1))) {
                    handler.accept(record);
                }
                if (!caughtUp.isDone() && end.entrySet().stream().allMatch(e -> c.position(e.getKey()) >= e.getValue())) {
                    caughtUp.complete(null);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("{} stopped: {}", name, e.toString(), e);
            caughtUp.completeExceptionally(e);
        }
    }

    @Override
    public void close() {
        if (state.getAndSet(State.CLOSED) != State.STARTED) {
            return;
        }
        closed.countDown();
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
