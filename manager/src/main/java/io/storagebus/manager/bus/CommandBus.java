package io.storagebus.manager.bus;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes the manager's records (commands plus the state they imply) atomically: all records of
 * one request commit in one Kafka transaction, so a command is never on its topic without its
 * task and volume state, or the other way round. Requests that arrive while a transaction is in
 * flight are batched into the next one.
 */
public final class CommandBus implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CommandBus.class);

    /** A record to publish; a null value is a tombstone (the keyed entity of a state topic is gone). */
    public record Outgoing(String topic, String key, SpecificRecord value) {
    }

    private record Submission(List<Outgoing> records, Context context, Promise<Void> promise) {
    }

    private enum State { LATENT, STARTED, FENCED, CLOSED }

    private static final int COMMIT_ATTEMPTS = 3;
    private static final Duration INIT_WAIT = Duration.ofSeconds(60);

    private final Vertx vertx;
    private final Properties producerProps;
    private final BooleanSupplier leading;
    /** Signs every command, so that workers can tell the managers' commands from forgeries; null: unsigned. */
    private final CommandSigner signer;
    private KafkaProducer<String, byte[]> producer;
    private final MessageCodec codec = MessageCodec.standard();
    private final LinkedBlockingQueue<Submission> queue = new LinkedBlockingQueue<>();
    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
    private final Thread thread;

    /**
     * @param transactionalId the same for every manager: the one that starts its bus fences the
     *        one before it, whose open transaction is aborted and whose next commit fails
     * @param leading whether this manager still leads; a producer that failed is replaced only
     *        while it does, so a deposed manager never fences the active one
     */
    public CommandBus(Vertx vertx, KafkaConnection kafka, String transactionalId, BooleanSupplier leading, CommandSigner signer) {
        this.vertx = vertx;
        this.signer = signer;
        this.leading = leading;
        Properties p = KafkaClients.transactionalProducer(kafka, transactionalId);
        // A REST client waits for the outcome, so give up within seconds when Kafka is away. A
        // record that cannot be delivered puts the transaction in an abortable error state, so
        // such a failure is a definite "nothing committed", never a half-written request.
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "6000");
        this.producerProps = p;
        this.thread = new Thread(this::run, "command-bus");
        this.thread.setDaemon(true);
    }

    /** Fences every earlier holder of the transactional id, then starts publishing. */
    public void start() {
        if (!state.compareAndSet(State.LATENT, State.STARTED)) {
            throw new IllegalStateException("command bus already started");
        }
        try {
            producer = newProducer(INIT_WAIT);
        } catch (KafkaException e) {
            state.set(State.CLOSED);
            throw e;
        }
        thread.start();
    }

    /**
     * A producer that fenced every earlier one. Its {@code initTransactions} is bound by the
     * requests' short {@code max.block.ms}, but a cluster that is starting (or moving the
     * transaction coordinator) can take longer to answer; a timed-out call may be repeated on the
     * same producer, so it is, for up to {@code patience} (taking writes: {@link #INIT_WAIT}),
     * while this manager still leads. A producer replaced under a request gets no more than one
     * call: the request's client is waiting.
     */
    private KafkaProducer<String, byte[]> newProducer(Duration patience) {
        KafkaProducer<String, byte[]> p = new KafkaProducer<>(producerProps);
        long deadline = System.nanoTime() + patience.toNanos();
        try {
            while (true) {
                try {
                    p.initTransactions();
                    return p;
                } catch (TimeoutException e) {
                    if (System.nanoTime() - deadline >= 0 || !leading.getAsBoolean()) {
                        throw e;
                    }
                    LOG.warn("the transaction coordinator has not answered yet ({}); asking again", e.getMessage());
                }
            }
        } catch (KafkaException e) {
            p.close(Duration.ZERO);
            throw e;
        }
    }

    /** Completes, on the caller's Vert.x context, once every record is committed. */
    public Future<Void> publish(List<Outgoing> records) {
        if (state.get() != State.STARTED) {
            return Future.failedFuture(new PublishFailedException(state.get() == State.FENCED
                    ? "another manager became active; this one no longer publishes" : "the manager is not running", null));
        }
        Promise<Void> promise = Promise.promise();
        queue.add(new Submission(records, vertx.getOrCreateContext(), promise));
        return promise.future();
    }

    private void run() {
        while (state.get() == State.STARTED) {
            List<Submission> batch = new ArrayList<>();
            try {
                Submission first = queue.poll(1, TimeUnit.SECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch);
                commitBatch(batch);
                batch.forEach(s -> s.context().runOnContext(v -> s.promise().complete()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail(batch, new PublishFailedException("the manager is shutting down", e));
                break;
            } catch (ProducerFencedException e) {
                LOG.error("publishing {} request(s) refused: another manager is active ({})", batch.size(), e.getMessage());
                fail(batch, new PublishFailedException("another manager became active; nothing was changed", e));
                state.compareAndSet(State.STARTED, State.FENCED);
            } catch (PublishUnconfirmedException e) {
                LOG.warn("publishing {} request(s) not confirmed: {}", batch.size(), e.getCause().toString());
                batch.forEach(s -> s.context().runOnContext(v -> s.promise().fail(e)));
            } catch (KafkaException e) {
                LOG.warn("publishing {} request(s) failed: {}", batch.size(), e.toString());
                fail(batch, new PublishFailedException("Kafka did not commit the request: " + e.getMessage(), e));
            }
        }
        if (producer != null) {
            producer.close();
        }
        Submission left;
        while ((left = queue.poll()) != null) {
            fail(List.of(left), new PublishFailedException("the manager is shutting down", null));
        }
    }

    /**
     * Commits the batch in one transaction. A producer the broker refused otherwise than by
     * fencing (a transaction it aborted: InvalidTxnState, say) is replaced, and the batch, of
     * which nothing was committed, tried once more on the new one. A commit that timed out is not
     * tried again: it may still take effect.
     */
    private void commitBatch(List<Submission> batch) {
        for (int attempt = 1; ; attempt++) {
            if (producer == null) {
                if (!leading.getAsBoolean()) {
                    throw new ProducerFencedException("this manager no longer leads");
                }
                producer = newProducer(Duration.ZERO);
            }
            try {
                commit(producer, batch);
                return;
            } catch (ProducerFencedException e) {
                throw e;
            } catch (PublishUnconfirmedException e) {
                producer.close(Duration.ZERO);
                producer = null;
                throw e;
            } catch (KafkaException e) {
                // A producer in an unknown transaction state is replaced rather than reused; nothing of this batch was committed.
                producer.close(Duration.ZERO);
                producer = null;
                if (attempt > 1 || e instanceof org.apache.kafka.common.errors.TimeoutException || state.get() != State.STARTED) {
                    throw e;
                }
                LOG.warn("publishing {} request(s) failed ({}); nothing was committed, trying once more with a new producer",
                        batch.size(), e.toString());
            }
        }
    }

    private void commit(KafkaProducer<String, byte[]> producer, List<Submission> batch) {
        producer.beginTransaction();
        try {
            for (Submission s : batch) {
                for (Outgoing o : s.records()) {
                    ProducerRecord<String, byte[]> r = new ProducerRecord<>(o.topic(), o.key(), o.value() == null ? null : codec.encode(o.value()));
                    if (o.value() != null) {
                        r.headers().add(Topics.TYPE_HEADER, o.value().getSchema().getFullName().getBytes(StandardCharsets.UTF_8));
                        // Only commands: workers check nothing else, and a signature costs ~0.5 ms here.
                        if (signer != null && Topics.carriesCommands(o.topic())) {
                            signer.sign(r);
                        }
                    }
                    producer.send(r);
                }
            }
            commitRetrying(producer);
        } catch (ProducerFencedException e) {
            throw e;
        } catch (KafkaException e) {
            try {
                producer.abortTransaction();
            } catch (KafkaException | IllegalStateException ignored) {
                // the producer is replaced by the caller; its successor settles the transaction
            }
            throw e;
        }
    }

    /**
     * A commit that timed out has an unknown outcome, and Kafka allows only the same commit
     * again: it is retried a few times before the request is reported as not confirmed.
     */
    private void commitRetrying(KafkaProducer<String, byte[]> producer) {
        for (int attempt = 1; ; attempt++) {
            try {
                producer.commitTransaction();
                return;
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                if (attempt == COMMIT_ATTEMPTS || state.get() != State.STARTED) {
                    throw unconfirmed(e);
                }
                LOG.warn("commit not confirmed yet (attempt {} of {}), trying it again: {}", attempt, COMMIT_ATTEMPTS, e.getMessage());
            } catch (KafkaException e) {
                if (attempt == 1) {
                    throw e;
                }
                // After a commit that timed out, the outcome of that commit is unknown whatever comes next (even a fencing).
                throw unconfirmed(e);
            }
        }
    }

    private static PublishUnconfirmedException unconfirmed(KafkaException e) {
        return new PublishUnconfirmedException("Kafka did not confirm the request in time; it may still take effect: send it again with "
                + "the same Idempotency-Key, or look before sending it again (" + e.getMessage() + ")", e);
    }

    private static void fail(List<Submission> batch, PublishFailedException e) {
        batch.forEach(s -> s.context().runOnContext(v -> s.promise().fail(e)));
    }


    @Override
    public void close() {
        State before = state.getAndSet(State.CLOSED);
        if (before != State.STARTED && before != State.FENCED) {
            return;
        }
        try {
            thread.join(20_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
