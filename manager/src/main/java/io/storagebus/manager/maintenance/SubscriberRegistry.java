package io.storagebus.manager.maintenance;

import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.manager.bus.DeadLetters;
import io.storagebus.manager.state.TopicFollower;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.SubscriberHeartbeat;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The subscribers that vote on maintenance, from their heartbeats on
 * {@code storagebus.subscribers}. A subscriber is alive while its last heartbeat (broker time) is
 * at most {@value #MISSED_HEARTBEATS} intervals old; only those are asked to vote.
 */
public final class SubscriberRegistry implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SubscriberRegistry.class);
    static final int MISSED_HEARTBEATS = 3;

    /** A registered subscriber and when it was last heard from. */
    public record Subscriber(String id, String description, SilencePolicy silence, long heartbeatIntervalMs, Instant lastHeartbeat) {
        public boolean alive(Instant now) {
            return !lastHeartbeat.plusMillis(MISSED_HEARTBEATS * heartbeatIntervalMs).isBefore(now);
        }
    }

    /**
     * A heartbeat that was refused, by its record key: the subscriber cannot read the dead-letter
     * topic, so the operator sees why here ({@code GET /api/v1/subscribers}).
     */
    public record Refusal(String key, String reason, Instant at) {
    }

    private final MessageCodec codec = MessageCodec.standard();
    private final Map<String, Subscriber> subscribers = new ConcurrentHashMap<>();
    private final Map<String, Refusal> refused = new ConcurrentHashMap<>();
    private final DeadLetters deadLetters;
    private final TopicFollower follower;

    public SubscriberRegistry(KafkaConnection kafka, DeadLetters deadLetters) {
        this.deadLetters = deadLetters;
        this.follower = new TopicFollower(kafka, "subscriber-registry", List.of(Topics.SUBSCRIBERS), this::apply);
    }

    public void start() {
        follower.start();
    }

    public CompletableFuture<Void> caughtUp() {
        return follower.caughtUp();
    }

    public List<Subscriber> all() {
        return subscribers.values().stream().sorted(Comparator.comparing(Subscriber::id)).toList();
    }

    /** The latest refused heartbeat of each key that has not sent a good one since. */
    public List<Refusal> refused() {
        return refused.values().stream().sorted(Comparator.comparing(Refusal::key)).toList();
    }

    public List<Subscriber> alive(Instant now) {
        return all().stream().filter(s -> s.alive(now)).toList();
    }

    private void apply(ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            refused.remove(record.key());
            if (subscribers.remove(record.key()) != null && follower.isCaughtUp()) {
                LOG.info("subscriber {} unregistered", record.key());
            }
            return;
        }
        String problem;
        try {
            SpecificRecord decoded = codec.decode(record.value());
            problem = decoded instanceof SubscriberHeartbeat beat ? check(record.key(), beat)
                    : decoded.getSchema().getFullName() + " is not a SubscriberHeartbeat";
            if (problem == null) {
                SubscriberHeartbeat beat = (SubscriberHeartbeat) decoded;
                refused.remove(record.key());
                Subscriber before = subscribers.put(beat.getSubscriberId(), new Subscriber(beat.getSubscriberId(), beat.getDescription(),
                        beat.getSilence(), beat.getHeartbeatIntervalMs(), Instant.ofEpochMilli(record.timestamp())));
                if (before == null && follower.isCaughtUp()) {
                    LOG.info("subscriber {} registered: {} (silence means {})", beat.getSubscriberId(), beat.getDescription(), beat.getSilence());
                }
                return;
            }
        } catch (UndecodableRecordException e) {
            problem = e.getMessage();
        }
        LOG.warn("{}-{}@{}: subscriber record refused: {}", record.topic(), record.partition(), record.offset(), problem);
        if (record.key() != null) {
            refused.put(record.key(), new Refusal(record.key(), problem, Instant.ofEpochMilli(record.timestamp())));
        }
        if (follower.isCaughtUp()) {
            deadLetters.send(record, problem);
        }
    }

    private static String check(String key, SubscriberHeartbeat beat) {
        if (!Topics.SUBSCRIBER_ID.matcher(beat.getSubscriberId()).matches() || MaintenanceBallot.STORAGEBUS.equals(beat.getSubscriberId())) {
            return "invalid subscriber id '" + beat.getSubscriberId() + "': it must match " + Topics.SUBSCRIBER_ID.pattern()
                    + " and not be '" + MaintenanceBallot.STORAGEBUS + "'";
        }
        if (!beat.getSubscriberId().equals(key)) {
            return "the record key '" + key + "' is not the subscriber id '" + beat.getSubscriberId() + "'";
        }
        if (beat.getHeartbeatIntervalMs() < 100 || beat.getHeartbeatIntervalMs() > 3_600_000) {
            return "heartbeatIntervalMs must be within 100..3600000, got " + beat.getHeartbeatIntervalMs();
        }
        return null;
    }

    @Override
    public void close() {
        follower.close();
    }
}
