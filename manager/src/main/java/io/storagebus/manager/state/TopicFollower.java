package io.storagebus.manager.state;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

import io.storagebus.bus.ConsumerLoop;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.metrics.StorageBusMetrics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads topics from their beginning, then follows them, handing every record to one handler on
 * its own thread. What the manager knows is rebuilt this way on every start: it keeps no
 * database and commits no offsets. Any failure ends it (a view that skipped records would be
 * wrong without knowing it): {@link #caughtUp()} and pending {@link #sync()}s then fail.
 */
public final class TopicFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicFollower.class);

    private final KafkaConnection kafka;
    private final String name;
    private final List<String> topics;
    /** Handles each poll's records, in the topics' order. */
    private final Consumer<List<ConsumerRecord<String, byte[]>>> handler;
    private final CompletableFuture<Void> caughtUp = new CompletableFuture<>();
    private final Lifecycle lifecycle = new Lifecycle("topic follower");
    private final ConcurrentLinkedQueue<CompletableFuture<Void>> syncRequests = new ConcurrentLinkedQueue<>();
    /** sync() requests with the end offsets they wait for; touched only by the follower's thread. */
    private final List<Map.Entry<CompletableFuture<Void>, Map<TopicPartition, Long>>> syncing = new ArrayList<>();
    private final ConsumerLoop loop;
    /** Why the follower stopped, once it has: a sync() asked after that can never complete. */
    private volatile RuntimeException stopped;

    /** Hands every record to {@code handler}, one at a time. */
    public TopicFollower(KafkaConnection kafka, String name, List<String> topics, Consumer<ConsumerRecord<String, byte[]>> handler) {
        this(kafka, topics, name, records -> records.forEach(handler));
    }

    /** Hands the records to {@code handler} a poll at a time, so it can work on many at once. */
    public static TopicFollower batched(KafkaConnection kafka, String name, List<String> topics,
                                        Consumer<List<ConsumerRecord<String, byte[]>>> handler) {
        return new TopicFollower(kafka, topics, name, handler);
    }

    private TopicFollower(KafkaConnection kafka, List<String> topics, String name, Consumer<List<ConsumerRecord<String, byte[]>>> handler) {
        this.kafka = kafka;
        this.name = name;
        this.topics = List.copyOf(topics);
        this.handler = handler;
        this.loop = new ConsumerLoop(name, this::open, e -> true, this::ended);
    }

    public void start() {
        lifecycle.start();
        StorageBusMetrics.get().lag(name, loop.lag());
        loop.start();
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
        } else {
            loop.wakeup();
        }
        return synced;
    }

    /** Reads every topic from its beginning; each poll's records are handled, then caught-up and sync waits are checked. */
    private ConsumerLoop.Session open(CountDownLatch closed) {
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaClients.consumer(kafka));
        try {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                partitions.addAll(KafkaClients.partitionsOf(c, topic, closed));
            }
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions);
            return ConsumerLoop.session(c, records -> polled(c, partitions, end, records));
        } catch (RuntimeException e) {
            c.close(Duration.ZERO);
            throw e;
        }
    }

    private void polled(KafkaConsumer<String, byte[]> c, List<TopicPartition> partitions, Map<TopicPartition, Long> end,
                        ConsumerRecords<String, byte[]> records) {
        if (!records.isEmpty()) {
            List<ConsumerRecord<String, byte[]>> polled = new ArrayList<>(records.count());
            records.forEach(polled::add);
            handler.accept(polled);
        }
        // Taken off the queue only once its end offsets are known: a wakeup in endOffsets leaves it for the next poll.
        while (!syncRequests.isEmpty()) {
            Map<TopicPartition, Long> now = c.endOffsets(partitions);
            syncing.add(Map.entry(syncRequests.poll(), now));
        }
        if (!caughtUp.isDone() && reached(c, end)) {
            caughtUp.complete(null);
        }
        syncing.removeIf(s -> reached(c, s.getValue()) && s.getKey().complete(null));
    }

    private static boolean reached(KafkaConsumer<String, byte[]> c, Map<TopicPartition, Long> end) {
        return end.entrySet().stream().allMatch(e -> c.position(e.getKey()) >= e.getValue());
    }

    /** On the follower's thread, once it stopped: closed, or failed. */
    private void ended(RuntimeException failure) {
        if (failure != null) {
            LOG.error("{} stopped: {}", name, failure.toString(), failure);
        }
        stopped = failure != null ? failure : new IllegalStateException(name + " is closed");
        caughtUp.completeExceptionally(stopped);
        syncing.forEach(s -> s.getKey().completeExceptionally(stopped));
        failPendingSyncs();
    }

    private void failPendingSyncs() {
        for (CompletableFuture<Void> request; (request = syncRequests.poll()) != null; ) {
            request.completeExceptionally(stopped);
        }
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        StorageBusMetrics.get().removeLag(name);
        loop.close();
    }
}
