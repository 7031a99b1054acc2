package io.storagebus.bus;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;

import io.storagebus.lifecycle.Lifecycle;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kafka consumer on a thread of its own, the one way StorageBus runs one: it opens a
 * {@link Session} (a consumer with its partitions assigned, and whatever the session writes
 * with), polls and hands every poll's records to it, and after a failure closes the session,
 * waits a second and opens a fresh one, unless the failure is {@code fatal}. {@link #close()}
 * stops it at once, even in the middle of a poll or while a topic's metadata is awaited;
 * {@link #wakeup()} only cuts the current poll short, for a session that has something to do
 * between polls.
 */
public final class ConsumerLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ConsumerLoop.class);
    private static final Duration RESTART_PAUSE = Duration.ofSeconds(1);

    /** One consumer's life: from its opening to a failure or the loop's end. */
    public interface Session extends AutoCloseable {
        KafkaConsumer<String, byte[]> consumer();

        /** After each poll, with its records: none after a {@link ConsumerLoop#wakeup()} or a quiet second. */
        void polled(ConsumerRecords<String, byte[]> records);

        /** How long the next poll may wait for records. */
        default Duration pollTimeout() {
            return Duration.ofSeconds(1);
        }

        /** Closes the consumer and whatever else the session opened. */
        @Override
        void close();
    }

    /**
     * Opens a session. {@code closed} is counted down when the loop is closed: waits inside the
     * opening (a topic's metadata, say) should end on it.
     */
    @FunctionalInterface
    public interface Opener {
        Session open(CountDownLatch closed);
    }

    /** A session that only polls and hands the records on; closing it closes the consumer. */
    public static Session session(KafkaConsumer<String, byte[]> consumer, Consumer<ConsumerRecords<String, byte[]>> polled) {
        return new Session() {
            @Override
            public KafkaConsumer<String, byte[]> consumer() {
                return consumer;
            }

            @Override
            public void polled(ConsumerRecords<String, byte[]> records) {
                polled.accept(records);
            }

            @Override
            public void close() {
                consumer.close(Duration.ofSeconds(5));
            }
        };
    }

    private final String name;
    private final Opener opener;
    private final Predicate<RuntimeException> fatal;
    private final Consumer<RuntimeException> stopped;
    private final Lifecycle lifecycle;
    private final CountDownLatch closed = new CountDownLatch(1);
    private final ConsumerLag lag = new ConsumerLag();
    private final Thread thread;
    private volatile Session session;
    private volatile boolean consuming;

    /**
     * @param name    the thread's name, also in log lines
     * @param fatal   which failures end the loop instead of restarting it (a fenced writer, say)
     * @param stopped called on the loop's thread once it ends: with the fatal failure, or null
     */
    public ConsumerLoop(String name, Opener opener, Predicate<RuntimeException> fatal, Consumer<RuntimeException> stopped) {
        this.name = name;
        this.opener = opener;
        this.fatal = fatal;
        this.stopped = stopped;
        this.lifecycle = new Lifecycle(name);
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    /** A loop that restarts after every failure and tells no one when it ends. */
    public ConsumerLoop(String name, Opener opener) {
        this(name, opener, e -> false, e -> { });
    }

    public void start() {
        lifecycle.start();
        thread.start();
    }

    /** The largest lag of the current session's consumer, for the metrics. */
    public ConsumerLag lag() {
        return lag;
    }

    /** Whether a session is open and polling (false while the loop restarts after a failure). */
    public boolean isConsuming() {
        return consuming;
    }

    /** Whether the loop runs: started, not closed, not ended by a fatal failure. */
    public boolean isRunning() {
        return lifecycle.isStarted() && thread.isAlive();
    }

    /** Cuts the current poll short: the session gets an empty poll and may do what it waits to do. */
    public void wakeup() {
        Session s = session;
        if (s != null) {
            s.consumer().wakeup();
        }
    }

    private void run() {
        RuntimeException failure = null;
        while (lifecycle.isStarted() && failure == null) {
            Session s = null;
            try {
                s = opener.open(closed);
                session = s;
                if (!lifecycle.isStarted()) {
                    break; // closed while opening: its wakeup may have missed this consumer
                }
                consuming = true;
                poll(s);
            } catch (WakeupException e) {
                // closed
            } catch (RuntimeException e) {
                if (!lifecycle.isStarted()) {
                    break;
                }
                if (fatal.test(e)) {
                    failure = e;
                } else {
                    if (e instanceof KafkaException) {
                        LOG.warn("{}: {}; opening a new consumer in {} s", name, e.toString(), RESTART_PAUSE.toSeconds());
                    } else {
                        LOG.error("{} failed; opening a new consumer in {} s", name, RESTART_PAUSE.toSeconds(), e);
                    }
                    pause();
                }
            } finally {
                consuming = false;
                session = null;
                if (s != null) {
                    closeQuietly(s);
                }
            }
        }
        stopped.accept(failure);
    }

    private void poll(Session s) {
        while (lifecycle.isStarted()) {
            ConsumerRecords<String, byte[]> records;
            try {
                records = s.consumer().poll(s.pollTimeout());
            } catch (WakeupException e) {
                if (!lifecycle.isStarted()) {
                    return;
                }
                records = ConsumerRecords.empty();
            }
            lag.track(s.consumer());
            try {
                s.polled(records);
            } catch (WakeupException e) {
                // A wakeup meant for the poll hit a call the session made after it: the session goes on.
                if (!lifecycle.isStarted()) {
                    return;
                }
            }
        }
    }

    private void pause() {
        try {
            closed.await(RESTART_PAUSE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void closeQuietly(Session s) {
        try {
            s.close();
        } catch (RuntimeException e) {
            LOG.debug("{}: closing the consumer: {}", name, e.toString());
        }
    }

    /** Stops the loop and waits up to 10 s for it; see {@link #close(Duration)}. */
    @Override
    public void close() {
        close(Duration.ofSeconds(10));
    }

    /**
     * Stops the loop: the poll or wait in progress ends at once, no records are handed on after
     * it. Returns whether the loop's thread ended within {@code wait} (a session may be busy in a
     * call that a wakeup does not end, such as a transaction's commit). Called on the loop's own
     * thread (from a session), it only asks.
     */
    public boolean close(Duration wait) {
        if (lifecycle.close()) {
            closed.countDown();
            wakeup();
        }
        if (Thread.currentThread() == thread) {
            return false;
        }
        try {
            thread.join(wait.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }
}
