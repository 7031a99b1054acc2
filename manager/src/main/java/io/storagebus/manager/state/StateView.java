package io.storagebus.manager.state;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.VolumeState;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's materialized view of the compacted state topics (domains, volumes, tasks). It
 * reads them from the beginning on start, so a restarted manager knows everything it knew; it
 * keeps no database of its own.
 */
public final class StateView implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StateView.class);
    private static final List<String> TOPICS = List.of(Topics.DOMAIN_STATE, Topics.VOLUME_STATE, Topics.TASK_STATE);

    private enum State { LATENT, STARTED, CLOSED }

    private final String bootstrapServers;
    private final MessageCodec codec = MessageCodec.standard();
    private final Map<String, DomainState> domains = new ConcurrentHashMap<>();
    private final Map<String, VolumeState> volumes = new ConcurrentHashMap<>();
    private final Map<String, TaskState> tasks = new ConcurrentHashMap<>();
    private final CompletableFuture<Void> caughtUp = new CompletableFuture<>();
    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
    private final Thread thread;
    private volatile KafkaConsumer<String, byte[]> consumer;

    public StateView(String bootstrapServers) {
        this.bootstrapServers = bootstrapServers;
        this.thread = new Thread(this::run, "state-view");
        this.thread.setDaemon(true);
    }

    public void start() {
        if (!state.compareAndSet(State.LATENT, State.STARTED)) {
            throw new IllegalStateException("state view already started");
        }
        thread.start();
    }

    /** Completes once every state record that existed at start has been applied. */
    public CompletableFuture<Void> caughtUp() {
        return caughtUp;
    }

    public boolean isCaughtUp() {
        return caughtUp.isDone() && !caughtUp.isCompletedExceptionally();
    }

    public Optional<DomainState> domain(String id) {
        return Optional.ofNullable(domains.get(id));
    }

    public Collection<DomainState> domains() {
        return domains.values();
    }

    public Optional<VolumeState> volume(String id) {
        return Optional.ofNullable(volumes.get(id));
    }

    public Collection<VolumeState> volumes() {
        return volumes.values();
    }

    public Optional<TaskState> task(String id) {
        return Optional.ofNullable(tasks.get(id));
    }

    /**
     * Records a state the manager itself is about to publish, so a client reads its own write at
     * once. Only new keys are taken: a later state from the topic must never be overwritten.
     */
    public boolean reserve(SpecificRecord record) {
        if (record instanceof DomainState d) {
            return domains.putIfAbsent(d.getId(), d) == null;
        } else if (record instanceof VolumeState v) {
            return volumes.putIfAbsent(v.getId(), v) == null;
        } else if (record instanceof TaskState t) {
            return tasks.putIfAbsent(t.getId(), t) == null;
        }
        throw new IllegalArgumentException("not a state record: " + record.getSchema().getFullName());
    }

    /** Takes back a reservation whose publication failed. */
    public void release(SpecificRecord record) {
        if (record instanceof DomainState d) {
            domains.remove(d.getId(), d);
        } else if (record instanceof VolumeState v) {
            volumes.remove(v.getId(), v);
        } else if (record instanceof TaskState t) {
            tasks.remove(t.getId(), t);
        }
    }

    private void run() {
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaClients.consumer(bootstrapServers))) {
            consumer = c;
            if (state.get() == State.CLOSED) {
                return;
            }
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : TOPICS) {
                partitions.addAll(KafkaClients.partitionsOf(c, topic));
            }
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions);
            while (state.get() != State.CLOSED) {
                for (ConsumerRecord<String, byte[]> record : c.poll(Duration.ofSeconds(1))) {
                    apply(record);
                }
                if (!caughtUp.isDone() && end.entrySet().stream().allMatch(e -> c.position(e.getKey()) >= e.getValue())) {
                    LOG.info("state view caught up: {} domains, {} volumes, {} tasks", domains.size(), volumes.size(), tasks.size());
                    caughtUp.complete(null);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("state view stopped: {}", e.toString(), e);
            caughtUp.completeExceptionally(e);
        }
    }

    private void apply(ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            // Tombstone: the entity is gone for good.
            switch (record.topic()) {
                case Topics.DOMAIN_STATE -> domains.remove(record.key());
                case Topics.VOLUME_STATE -> volumes.remove(record.key());
                case Topics.TASK_STATE -> tasks.remove(record.key());
                default -> { }
            }
            return;
        }
        try {
            SpecificRecord decoded = codec.decode(record.value());
            if (decoded instanceof DomainState d) {
                domains.put(d.getId(), d);
            } else if (decoded instanceof VolumeState v) {
                volumes.put(v.getId(), v);
            } else if (decoded instanceof TaskState t) {
                tasks.put(t.getId(), t);
            } else {
                LOG.warn("{}-{}@{}: unexpected {} on a state topic, skipped",
                        record.topic(), record.partition(), record.offset(), decoded.getSchema().getFullName());
            }
        } catch (UndecodableRecordException e) {
            LOG.warn("{}-{}@{}: undecodable state record skipped: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
        }
    }

    @Override
    public void close() {
        if (state.getAndSet(State.CLOSED) != State.STARTED) {
            return;
        }
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
