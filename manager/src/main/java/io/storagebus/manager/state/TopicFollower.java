package io.storagebus.manager.state;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.ConsumerLag;
import io.storagebus.bus.KafkaClients;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.metrics.StorageBusMetrics;
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

    private final KafkaConnection kafka;
    private final String name;
    private final List<String> topics;
    private final Consumer<ConsumerRecord<String, byte[]>> handler;
    private final CompletableFuture<Void> caughtUp = new CompletableFuture<>();
    private final Lifecycle lifecycle = new Lifecycle("topic follower");
    private final CountDownLatch closed = new CountDownLatch(1);
    private final ConcurrentLinkedQueue<CompletableFuture<Void>> syncRequests = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    private volatile KafkaConsumer<String, byte[]> consumer;
    /** Set once the consumer is in its poll loop, where a wakeup from sync() is expected. */
    private volatile boolean following;
    /** Why the follower stopped, once it has: a sync() asked after that can never complete. */
    private volatile RuntimeException stopped;
    private final ConsumerLag lag = new ConsumerLag();
    /** sync() requests with the end offsets they wait for; touched only by the follower's thread. */
    private final List<Map.Entry<CompletableFuture<Void>, Map<TopicPartition, Long>>> syncing = new ArrayList<>();

    public TopicFollower(KafkaConnection kafka, String name, List<String> topics, Consumer<ConsumerRecord<String, byte[]>> handler) {
        this.kafka = kafka;
        this.name = name;
        this.topics = List.copyOf(topics);
        this.handler = handler;
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    public void start() {
        lifecycle.start();
        thread.start();
    }

    /** Completes, on the follower's thread, once every record that existed at start was handled. */
    public CompletableFuture<Void> caughtUp() {
        return caughtUp;
    }

    public boolean isCaughtUp() {
        return caughtUp.isDone() && !caughtUp.isCompletedExceptionally();
    }

    /**
     * Completes, on the follower's thread, once every record committed before this call was
     * handled: what a manager taking over waits for, after fencing the previous one, so that it
     * decides on everything its predecessor published.
     */
    public CompletableFuture<Void> sync() {
        CompletableFuture<Void> synced = new CompletableFuture<>();
        syncRequests.add(synced);
        if (stopped != null) {
            failPendingSyncs();
            return synced;
        }
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null && following) {
            c.wakeup();
        }
        return synced;
    }

    private void run() {
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaClients.consumer(kafka))) {
            consumer = c;
            if (lifecycle.isClosed()) {
                return;
            }
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                partitions.addAll(KafkaClients.partitionsOf(c, topic, closed));
            }
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions);
            syncing.clear();
            following = true;
            StorageBusMetrics.get().lag(name, lag);
            while (!lifecycle.isClosed()) {
                try {
                    for (ConsumerRecord<String, byte[]> record : c.poll(Duration.ofSeconds(1))) {
                        handler.accept(record);
                    }
                    lag.track(c);
                } catch (WakeupException e) {
                    // sync() asked for the end offsets, or close() for the end
                }
                for (CompletableFuture<Void> request; (request = syncRequests.poll()) != null; ) {
                    syncing.add(Map.entry(request, c.endOffsets(partitions)));
                }
                if (!caughtUp.isDone() && reached(c, end)) {
                    caughtUp.complete(null);
                }
                syncing.removeIf(s -> reached(c, s.getValue()) && s.getKey().complete(null));
            }
        } catch (WakeupException e) {
            // closed before the topics were found
        } catch (RuntimeException e) {
            LOG.error("{} stopped: {}", name, e.toString(), e);
            stopped = e;
        } finally {
            if (stopped == null) {
                stopped = new IllegalStateException(name + " is closed");
            }
            caughtUp.completeExceptionally(stopped);
            syncing.forEach(s -> s.getKey().completeExceptionally(stopped));
            failPendingSyncs();
        }
    }

    private void failPendingSyncs() {
        for (CompletableFuture<Void> request; (request = syncRequests.poll()) != null; ) {
            request.completeExceptionally(stopped);
        }
    }

    private static boolean reached(KafkaConsumer<String, byte[]> c, Map<TopicPartition, Long> end) {
        return end.entrySet().stream().allMatch(e -> c.position(e.getKey()) >= e.getValue());
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        closed.countDown();
        StorageBusMetrics.get().removeLag(name);
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
