package io.storagebus.subscriber;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.ConsumerLoop;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.MaintenanceVote;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.SubscriberHeartbeat;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A service that follows StorageBus's public events and votes on maintenance, in a few lines:
 *
 * <pre>{@code
 * StorageSubscriber billing = StorageSubscriber.builder("kafka:9092", "billing")
 *         .description("billing: invoices read volumes")
 *         .silence(SilencePolicy.VETO)
 *         .voter(request -> invoicing ? Vote.veto("invoice run until 02:00") : Vote.consent())
 *         .listener(event -> log.info("storage: {}", event))
 *         .build();
 * billing.start();   // registered, heartbeating, voting
 * ...
 * billing.close();   // stops; stays registered until its heartbeats are missed
 * }</pre>
 *
 * <p>{@link #start()} registers the subscriber on {@code storagebus.subscribers} and sends a
 * heartbeat every interval from then on; the manager asks only subscribers it heard from within
 * three intervals. Events are read with the consumer group {@code storagebus-subscriber-<id>}, so
 * a restarted subscriber goes on where it stopped and still answers requests made while it was
 * down; a new one starts at the end of the stream. The first vote of a subscriber counts.
 */
public final class StorageSubscriber implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StorageSubscriber.class);
    /** The pool a subscriber's own records name: it is not bound to one. */
    static final String ANY_POOL = "*";

    private final Builder config;
    private final String issuer;
    private final MessageCodec codec = MessageCodec.standard();
    private final Lifecycle lifecycle = new Lifecycle("subscriber");
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final ScheduledExecutorService heartbeats;
    private final ConsumerLoop loop;
    private KafkaProducer<String, byte[]> producer;
    /** The consumer start() positioned before registering, for the loop's first session. */
    private final AtomicReference<KafkaConsumer<String, byte[]>> first = new AtomicReference<>();

    private StorageSubscriber(Builder config) {
        this.config = config;
        this.issuer = "subscriber:" + config.subscriberId;
        this.heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "subscriber-heartbeat-" + config.subscriberId);
            t.setDaemon(true);
            return t;
        });
        this.loop = new ConsumerLoop("subscriber-" + config.subscriberId, this::open);
    }

    public static Builder builder(String bootstrapServers, String subscriberId) {
        return builder(KafkaConnection.plaintext(bootstrapServers), subscriberId);
    }

    /** A subscriber reaching Kafka with an identity of its own (TLS, SASL): see docs/SECURITY.md for the ACLs it needs. */
    public static Builder builder(KafkaConnection kafka, String subscriberId) {
        return new Builder(kafka, subscriberId);
    }

    public String subscriberId() {
        return config.subscriberId;
    }

    /**
     * Takes its place in the event stream, then registers: once this returns, every maintenance
     * request made from now on reaches this subscriber.
     */
    public void start() {
        lifecycle.start();
        Properties p = KafkaClients.producer(config.connection);
        p.putAll(config.kafka);
        producer = new KafkaProducer<>(p);
        first.set(newConsumer(stopRequested));
        loop.start();
        heartbeat().join();
        heartbeats.scheduleAtFixedRate(this::heartbeatQuietly, config.heartbeatInterval.toMillis(),
                config.heartbeatInterval.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info("subscriber {} registered (silence means {}, heartbeat every {} ms)", config.subscriberId, config.silence,
                config.heartbeatInterval.toMillis());
    }

    /** Answers a request the voter returned null for. Completes once Kafka has the vote. */
    public CompletableFuture<Void> vote(MaintenanceRequested request, Vote vote) {
        if (!lifecycle.isStarted()) {
            return CompletableFuture.failedFuture(new IllegalStateException("subscriber " + config.subscriberId + " is not running"));
        }
        MaintenanceVote record = MaintenanceVote.newBuilder()
                .setEnvelope(Envelopes.causedBy(request.getEnvelope(), issuer, null))
                .setRequestId(request.getRequestId()).setDomainId(request.getDomainId()).setSubscriberId(config.subscriberId)
                .setDecision(vote.decision()).setReason(vote.reason())
                .build();
        LOG.info("subscriber {} votes {} on maintenance {} of domain {}{}", config.subscriberId, vote.decision(), request.getRequestId(),
                request.getDomainId(), vote.reason() == null ? "" : ": " + vote.reason());
        return send(Records.of(Topics.MAINTENANCE, request.getRequestId(), record));
    }

    /** Leaves for good: the manager stops asking this subscriber at once. */
    public CompletableFuture<Void> unregister() {
        return send(new ProducerRecord<>(Topics.SUBSCRIBERS, config.subscriberId, null));
    }

    private CompletableFuture<Void> heartbeat() {
        SubscriberHeartbeat beat = SubscriberHeartbeat.newBuilder()
                .setEnvelope(Envelopes.origin(ANY_POOL, issuer, config.subscriberId))
                .setSubscriberId(config.subscriberId).setDescription(config.description).setSilence(config.silence)
                .setHeartbeatIntervalMs(config.heartbeatInterval.toMillis())
                .build();
        return send(Records.of(Topics.SUBSCRIBERS, config.subscriberId, beat));
    }

    private void heartbeatQuietly() {
        heartbeat().whenComplete((v, e) -> {
            if (e != null) {
                LOG.warn("subscriber {}: heartbeat not sent: {}", config.subscriberId, e.toString());
            }
        });
    }

    private CompletableFuture<Void> send(ProducerRecord<String, byte[]> record) {
        CompletableFuture<Void> sent = new CompletableFuture<>();
        producer.send(record, (metadata, e) -> {
            if (e != null) {
                sent.completeExceptionally(e);
            } else {
                sent.complete(null);
            }
        });
        return sent;
    }

    /**
     * A consumer whose position is fixed before the subscriber registers, so no request made
     * after registration can fall before its starting point.
     */
    private KafkaConsumer<String, byte[]> newConsumer(CountDownLatch stop) {
        Properties p = KafkaClients.consumer(config.connection);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "storagebus-subscriber-" + config.subscriberId);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.putAll(config.kafka);
        KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p);
        try {
            List<TopicPartition> partitions = KafkaClients.partitionsOf(c, Topics.EVENTS, stop);
            c.assign(partitions);
            partitions.forEach(c::position);
            return c;
        } catch (RuntimeException e) {
            c.close(Duration.ZERO);
            throw e;
        }
    }

    /** Follows the events: the first session on the consumer start() positioned, later ones (after a failure) on new ones. */
    private ConsumerLoop.Session open(CountDownLatch closed) {
        KafkaConsumer<String, byte[]> premade = first.getAndSet(null);
        KafkaConsumer<String, byte[]> c = premade != null ? premade : newConsumer(closed);
        return ConsumerLoop.session(c, records -> {
            records.forEach(this::handle);
            if (!records.isEmpty()) {
                c.commitAsync();
            }
        });
    }

    private void handle(ConsumerRecord<String, byte[]> record) {
        SpecificRecord event;
        try {
            event = codec.decode(record.value());
        } catch (UndecodableRecordException e) {
            LOG.warn("subscriber {}: {}-{}@{} skipped, it cannot be decoded: {}", config.subscriberId, record.topic(),
                    record.partition(), record.offset(), e.getMessage());
            return;
        }
        if (config.listener != null) {
            try {
                config.listener.onEvent(event);
            } catch (Exception e) {
                LOG.error("subscriber {}: the event listener failed on {}", config.subscriberId, event.getSchema().getName(), e);
            }
        }
        if (event instanceof MaintenanceRequested request && config.voter != null) {
            answer(request);
        }
    }

    private void answer(MaintenanceRequested request) {
        boolean asked = request.getVoters().stream().anyMatch(v -> v.getSubscriberId().equals(config.subscriberId));
        if (!asked) {
            LOG.debug("subscriber {} is not a voter of maintenance {}", config.subscriberId, request.getRequestId());
            return;
        }
        Vote vote;
        try {
            vote = config.voter.vote(request);
        } catch (Exception e) {
            LOG.error("subscriber {}: the voter failed on maintenance {}; staying silent ({} at the deadline)", config.subscriberId,
                    request.getRequestId(), config.silence, e);
            return;
        }
        if (vote != null) {
            vote(request, vote).whenComplete((v, e) -> {
                if (e != null) {
                    LOG.error("subscriber {}: vote on maintenance {} not sent: {}", config.subscriberId, request.getRequestId(), e.toString());
                }
            });
        }
    }

    /** Stops following and voting; the registration stays until heartbeats are missed (see {@link #unregister()}). */
    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        stopRequested.countDown();
        heartbeats.shutdownNow();
        loop.close();
        KafkaConsumer<String, byte[]> unused = first.getAndSet(null);
        if (unused != null) {
            unused.close(Duration.ZERO);
        }
        producer.close(Duration.ofSeconds(5));
    }

    /** How a subscriber presents itself and what it does with what it reads. */
    public static final class Builder {
        private final KafkaConnection connection;
        private final String subscriberId;
        private String description;
        private SilencePolicy silence = SilencePolicy.VETO;
        private Duration heartbeatInterval = Duration.ofSeconds(5);
        private MaintenanceVoter voter;
        private StorageEventListener listener;
        private final Map<String, Object> kafka = new HashMap<>();

        private Builder(KafkaConnection connection, String subscriberId) {
            this.connection = Objects.requireNonNull(connection, "connection");
            if (subscriberId == null || !Topics.SUBSCRIBER_ID.matcher(subscriberId).matches()) {
                throw new IllegalArgumentException("subscriber id '" + subscriberId + "' must match " + Topics.SUBSCRIBER_ID.pattern());
            }
            this.subscriberId = subscriberId;
            this.description = subscriberId;
        }

        /** What the subscriber is, for operators reading a maintenance request. */
        public Builder description(String description) {
            this.description = Objects.requireNonNull(description, "description");
            return this;
        }

        /** What this subscriber's silence at a deadline counts as; VETO unless told. */
        public Builder silence(SilencePolicy silence) {
            this.silence = Objects.requireNonNull(silence, "silence");
            return this;
        }

        /** How often to send a heartbeat (default 5 s); the manager stops asking after three missed. */
        public Builder heartbeatInterval(Duration interval) {
            if (interval.toMillis() < 100) {
                throw new IllegalArgumentException("heartbeat interval must be at least 100 ms");
            }
            this.heartbeatInterval = interval;
            return this;
        }

        /** Votes on maintenance requests; without one the subscriber only listens and is counted by its silence. */
        public Builder voter(MaintenanceVoter voter) {
            this.voter = voter;
            return this;
        }

        public Builder listener(StorageEventListener listener) {
            this.listener = listener;
            return this;
        }

        /** Extra Kafka client settings (security, timeouts) for both the producer and the consumer. */
        public Builder kafkaProperty(String key, Object value) {
            kafka.put(key, value);
            return this;
        }

        public StorageSubscriber build() {
            return new StorageSubscriber(this);
        }
    }
}
