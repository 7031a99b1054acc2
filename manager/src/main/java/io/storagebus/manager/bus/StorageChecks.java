package io.storagebus.manager.bus;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.manager.state.TopicFollower;
import io.storagebus.schema.CheckDomainStorage;
import io.storagebus.schema.DomainStorageChecked;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks a host to check a domain's storage and waits for its answer: a command with an answer.
 * The check is sent on the host's command topic; the host answers on
 * {@link Topics#STORAGE_CHECKS}, which every manager follows from its start, so an answer is
 * never missed between sending and listening.
 */
public final class StorageChecks implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StorageChecks.class);

    /** No host answered in time: it is down, or its command topic is behind. */
    public static final class NoAnswerException extends RuntimeException {
        public NoAnswerException(String message) {
            super(message);
        }
    }

    private record Waiting(Promise<DomainStorageChecked> promise, Context context) {
    }

    private final Vertx vertx;
    private final TopicFollower answers;
    private final MessageCodec codec = MessageCodec.standard();
    private final Map<String, Waiting> waiting = new ConcurrentHashMap<>();
    private final Lifecycle lifecycle = new Lifecycle("storage checks");

    public StorageChecks(Vertx vertx, KafkaConnection kafka) {
        this.vertx = vertx;
        this.answers = new TopicFollower(kafka, "storage-checks", List.of(Topics.STORAGE_CHECKS), this::onAnswer);
    }

    public void start() {
        lifecycle.start();
        answers.start();
    }

    /**
     * Sends {@code check} through {@code bus} to its host and completes with the host's answer, or
     * fails with {@link NoAnswerException} after {@code timeout}. Call on a Vert.x context.
     */
    public Future<DomainStorageChecked> ask(CommandBus bus, CheckDomainStorage check, Duration timeout) {
        if (!lifecycle.isStarted()) {
            return Future.failedFuture(new IllegalStateException("storage checks are " + lifecycle.state()));
        }
        Promise<DomainStorageChecked> promise = Promise.promise();
        // Waiting before sending: the answer may come back before publish() completes.
        waiting.put(check.getCheckId(), new Waiting(promise, vertx.getOrCreateContext()));
        long timer = vertx.setTimer(timeout.toMillis(), t -> {
            if (waiting.remove(check.getCheckId()) != null) {
                promise.tryFail(new NoAnswerException("host '" + check.getHostId() + "' did not answer the storage check within "
                        + timeout.toSeconds() + " s; is its worker running? (GET /api/v1/hosts)"));
            }
        });
        bus.publish(List.of(new CommandBus.Outgoing(Topics.hostCommands(check.getHostId()), check.getCheckId(), check)))
                .onFailure(e -> {
                    waiting.remove(check.getCheckId());
                    promise.tryFail(e);
                });
        return promise.future().onComplete(ar -> vertx.cancelTimer(timer));
    }

    private void onAnswer(ConsumerRecord<String, byte[]> record) {
        Waiting w = record.key() == null ? null : waiting.remove(record.key());
        if (w == null) {
            return;
        }
        SpecificRecord answer;
        try {
            answer = codec.decode(record.value());
        } catch (UndecodableRecordException e) {
            LOG.warn("{}-{}@{}: undecodable storage check answer: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
            w.context().runOnContext(v -> w.promise().tryFail(new IllegalStateException("the host's answer cannot be decoded: " + e.getMessage())));
            return;
        }
        if (answer instanceof DomainStorageChecked checked && checked.getCheckId().equals(record.key())) {
            w.context().runOnContext(v -> w.promise().tryComplete(checked));
        } else {
            w.context().runOnContext(v -> w.promise().tryFail(new IllegalStateException(
                    "the host answered with " + answer.getSchema().getName() + ", not DomainStorageChecked")));
        }
    }

    @Override
    public void close() {
        if (lifecycle.close()) {
            answers.close();
            waiting.values().forEach(w -> w.promise().tryFail(new IllegalStateException("the manager is stopping")));
            waiting.clear();
        }
    }
}
