package io.storagebus.manager.events;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import io.storagebus.bus.ConsumerLoop;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.metrics.StorageBusMetrics;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import org.apache.avro.Schema;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The public events ({@code storagebus.events}) as server-sent events, for clients that speak only
 * HTTP. One consumer reads the topic from where it stood at start and keeps the latest events,
 * decoded and encoded once, in an {@link EventRing} that every client reads at its own pace: a
 * client costs its place in the ring and its connection's write queue, whatever the event rate.
 * A client that stops reading is cut off once the ring has moved past it ({@code TOO_SLOW}),
 * never waited for. A client that comes back with an older position than the ring holds is
 * replayed from Kafka first, on a few threads of its own, then joins the ring.
 */
public final class EventStream implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EventStream.class);
    /** Events the ring holds: a client may fall this far behind before it is cut off (about 8 MB of events). */
    public static final int DEFAULT_CAPACITY = 16_384;
    private static final long KEEP_ALIVE_MILLIS = 15_000;
    private static final int REPLAY_THREADS = 2;
    /** How long a replay waits for a client to take a batch before it gives the client up. */
    private static final Duration REPLAY_PATIENCE = Duration.ofSeconds(60);

    private final Vertx vertx;
    private final KafkaConnection kafka;
    private final int capacity;
    private final MessageCodec codec = MessageCodec.standard();
    private final Lifecycle lifecycle = new Lifecycle("event stream");
    private final Set<EventClient> clients = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private final ConsumerLoop loop;
    private final ExecutorService replays;
    private volatile EventRing ring;
    /** The ring's head and the position after the last record read, always read together. */
    private volatile Latest latest;
    private List<TopicPartition> partitions;
    private long keepAlive = -1;

    private record Latest(long head, StreamPosition position) {
    }

    public EventStream(Vertx vertx, KafkaConnection kafka, int capacity) {
        this.vertx = vertx;
        this.kafka = kafka;
        this.capacity = capacity;
        this.loop = new ConsumerLoop("event-stream", this::open);
        this.replays = Executors.newFixedThreadPool(REPLAY_THREADS, r -> {
            Thread t = new Thread(r, "event-stream-replay");
            t.setDaemon(true);
            return t;
        });
    }

    public void start() {
        lifecycle.start();
        StorageBusMetrics.get().lag("event-stream", loop.lag());
        loop.start();
        keepAlive = vertx.setPeriodic(KEEP_ALIVE_MILLIS, t -> clients.forEach(EventClient::keepAlive));
    }

    /** Completes once the stream knows where the topic ends and serves clients. */
    public CompletableFuture<Void> started() {
        return started;
    }

    /** Partitions of {@code storagebus.events}, as the SSE ids name them. */
    public int partitions() {
        return latest.position().partitions();
    }

    /**
     * Serves the events that pass {@code filter} on the request's response until the client goes away or
     * falls too far behind: from {@code resumeAfter} (a client's Last-Event-ID) or, when null, from now.
     */
    public void follow(HttpServerRequest request, EventFilter filter, StreamPosition resumeAfter) {
        EventClient client = new EventClient(this, vertx.getOrCreateContext(), request, filter);
        clients.add(client);
        StorageBusMetrics.get().eventStreamClients(clients.size());
        Latest now = latest;
        client.begin(resumeAfter == null ? now.position() : resumeAfter, resumeAfter == null ? now.head() : ring.tail());
    }

    /** Events the ring holds. */
    public int capacity() {
        return capacity;
    }

    EventRing ring() {
        return ring;
    }

    void gone(EventClient client) {
        clients.remove(client);
        StorageBusMetrics.get().eventStreamClients(clients.size());
    }

    /** Clients being served, for tests and the metrics. */
    public int clients() {
        return clients.size();
    }

    /** The reader of the topic: from the end at the first start, from where it stood after a failure. */
    private ConsumerLoop.Session open(CountDownLatch closed) {
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(KafkaClients.consumer(kafka));
        try {
            if (partitions == null) {
                List<TopicPartition> all = KafkaClients.partitionsOf(consumer, Topics.EVENTS, closed);
                consumer.assign(all);
                consumer.seekToEnd(all);
                long[] end = new long[all.size()];
                for (TopicPartition tp : all) {
                    end[tp.partition()] = consumer.position(tp);
                }
                StreamPosition start = StreamPosition.of(end);
                ring = new EventRing(capacity, start);
                latest = new Latest(0, start);
                partitions = all;
                started.complete(null);
                LOG.info("event stream serving from {}", start);
            } else {
                consumer.assign(partitions);
                StreamPosition at = latest.position();
                partitions.forEach(tp -> consumer.seek(tp, at.next(tp.partition())));
            }
            return ConsumerLoop.session(consumer, this::polled);
        } catch (RuntimeException e) {
            consumer.close(Duration.ZERO);
            throw e;
        }
    }

    private void polled(ConsumerRecords<String, byte[]> records) {
        if (records.isEmpty()) {
            return;
        }
        Latest at = latest;
        long head = at.head();
        StreamPosition position = at.position();
        for (ConsumerRecord<String, byte[]> record : records) {
            position = position.after(record.partition(), record.offset());
            StreamedEvent event = streamed(record, head, position);
            if (event != null) {
                ring.append(event);
                head++;
            }
        }
        latest = new Latest(head, position);
        clients.forEach(EventClient::wake);
    }

    /** The record as a client gets it, or null when it cannot be decoded (its producer's dead letter, not ours to send). */
    StreamedEvent streamed(ConsumerRecord<String, byte[]> record, long seq, StreamPosition position) {
        SpecificRecord event;
        try {
            event = codec.decode(record.value());
        } catch (UndecodableRecordException e) {
            LOG.debug("event at {}-{} not decodable, not streamed: {}", record.partition(), record.offset(), e.getMessage());
            return null;
        }
        Set<String> volumes = new HashSet<>();
        for (String field : List.of("volumeId", "sourceVolumeId", "targetVolumeId")) {
            String id = field(event, field);
            if (id != null) {
                volumes.add(id);
            }
        }
        IndexedRecord envelope = (IndexedRecord) event.get(event.getSchema().getField("envelope").pos());
        String data = EventJson.message(record.key(), record.timestamp(), event).encode();
        return new StreamedEvent(seq, record.partition(), record.offset(), position, event.getSchema().getName(),
                String.valueOf(envelope.get(envelope.getSchema().getField("pool").pos())), field(event, "domainId"), Set.copyOf(volumes), data);
    }

    private static String field(IndexedRecord record, String name) {
        Schema.Field f = record.getSchema().getField(name);
        return f == null || record.get(f.pos()) == null ? null : record.get(f.pos()).toString();
    }

    /**
     * Reads the topic from {@code from} until it reaches what the ring holds, handing each poll's
     * events to {@code sink}, which answers once the client took them. Completes with the position
     * the client then stands at.
     */
    CompletableFuture<StreamPosition> replay(StreamPosition from, Function<List<StreamedEvent>, Future<Void>> sink) {
        return CompletableFuture.supplyAsync(() -> {
            Properties props = KafkaClients.consumer(kafka);
            props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "500");
            try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props)) {
                consumer.assign(partitions);
                var end = consumer.endOffsets(partitions);
                // A position past the end (forged, or another manager ahead of this one) waits at the end.
                partitions.forEach(tp -> consumer.seek(tp, Math.min(from.next(tp.partition()), end.get(tp))));
                StreamPosition position = from;
                while (!position.covers(ring.floor())) {
                    if (!lifecycle.isStarted()) {
                        throw new IllegalStateException("the manager is stopping");
                    }
                    ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofSeconds(1));
                    List<StreamedEvent> batch = new ArrayList<>(records.count());
                    for (ConsumerRecord<String, byte[]> record : records) {
                        position = position.after(record.partition(), record.offset());
                        StreamedEvent event = streamed(record, -1, position);
                        if (event != null) {
                            batch.add(event);
                        }
                    }
                    if (records.isEmpty()) {
                        // Transaction markers hold offsets no record has: the consumer's position says it read past them.
                        for (TopicPartition tp : partitions) {
                            position = position.after(tp.partition(), consumer.position(tp) - 1);
                        }
                    }
                    if (!batch.isEmpty()) {
                        sink.apply(batch).toCompletionStage().toCompletableFuture().get(REPLAY_PATIENCE.toSeconds(), TimeUnit.SECONDS);
                    }
                }
                return position;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("replay interrupted", e);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("the client did not take the events replayed to it: " + e, e);
            }
        }, replays);
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        vertx.cancelTimer(keepAlive);
        clients.forEach(EventClient::shutdown);
        loop.close();
        replays.shutdownNow();
        StorageBusMetrics.get().removeLag("event-stream");
    }
}
