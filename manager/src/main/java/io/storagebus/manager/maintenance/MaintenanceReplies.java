package io.storagebus.manager.maintenance;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.manager.bus.DeadLetters;
import io.storagebus.manager.state.TopicFollower;
import io.storagebus.schema.DomainDisconnected;
import io.storagebus.schema.MaintenanceVote;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replies on {@code storagebus.maintenance}, from its beginning: subscribers' votes and hosts'
 * disconnect answers, handed on, on the follower's thread. What is not a reply
 * is logged, and once the topic is caught up (a record of now, not a replayed one) sent to the
 * dead-letter topic with the reason.
 */
final class MaintenanceReplies implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MaintenanceReplies.class);

    /** Told of every vote, cast {@code at}; {@code live} is false while old replies are replayed on start. */
    @FunctionalInterface
    interface Votes {
        void vote(MaintenanceVote vote, Instant at, boolean live);
    }

    /** Told of every host's disconnect answer; {@code live} as for votes. */
    @FunctionalInterface
    interface Answers {
        void disconnected(DomainDisconnected answer, boolean live);
    }

    private final MessageCodec codec = MessageCodec.standard();
    private final DeadLetters deadLetters;
    private final Votes votes;
    private final Answers answers;
    private final TopicFollower follower;

    MaintenanceReplies(KafkaConnection kafka, DeadLetters deadLetters, Votes votes, Answers answers) {
        this.deadLetters = deadLetters;
        this.votes = votes;
        this.answers = answers;
        this.follower = new TopicFollower(kafka, "maintenance-replies", List.of(Topics.MAINTENANCE), this::onRecord);
    }

    void start() {
        follower.start();
    }

    /** Completes once every reply that existed at start was handed on. */
    CompletableFuture<Void> caughtUp() {
        return follower.caughtUp();
    }

    boolean isCaughtUp() {
        return follower.isCaughtUp();
    }

    private void onRecord(ConsumerRecord<String, byte[]> record) {
        boolean live = follower.isCaughtUp();
        SpecificRecord reply;
        try {
            reply = codec.decode(record.value());
        } catch (UndecodableRecordException e) {
            refuse(record, "undecodable maintenance reply: " + e.getMessage(), e.getMessage(), live);
            return;
        }
        if (reply instanceof MaintenanceVote vote) {
            votes.vote(vote, Instant.ofEpochMilli(record.timestamp()), live);
        } else if (reply instanceof DomainDisconnected disconnected) {
            answers.disconnected(disconnected, live);
        } else {
            String why = reply.getSchema().getFullName() + " is not a maintenance reply";
            refuse(record, why, why, live);
        }
    }

    private void refuse(ConsumerRecord<String, byte[]> record, String logged, String reason, boolean live) {
        LOG.warn("{}-{}@{}: {}", record.topic(), record.partition(), record.offset(), logged);
        if (live) {
            deadLetters.send(record, reason);
        }
    }

    @Override
    public void close() {
        follower.close();
    }
}
