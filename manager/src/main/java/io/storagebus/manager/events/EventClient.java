package io.storagebus.manager.events;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import io.storagebus.metrics.StorageBusMetrics;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client of the {@link EventStream}: its connection, its filter and where it stands. Everything
 * it does runs on its connection's context, so it needs no locks. It reads the ring from its place
 * while its connection takes more; when the connection is full it waits for it to drain, and if
 * the ring moves past it meanwhile it is cut off with a reason. When its place is older than the
 * ring (a resume after a long absence), the stream replays it from Kafka first.
 */
final class EventClient {
    private static final Logger LOG = LoggerFactory.getLogger(EventClient.class);
    /** Bytes a connection may hold unsent before the client waits for it to drain. */
    static final int WRITE_QUEUE_BYTES = 64 * 1024;
    /** How long a replayed client may leave its connection full before it is cut off. */
    private static final long DRAIN_PATIENCE_MILLIS = 10_000;
    /** How long a client cut off has to read why before its connection is closed under it. */
    private static final long GOODBYE_MILLIS = 5_000;

    private enum Mode { RING, REPLAY, CLOSED }

    private final EventStream stream;
    private final Context context;
    private final HttpConnection connection;
    private final HttpServerResponse response;
    private final EventFilter filter;
    private final AtomicBoolean woken = new AtomicBoolean();
    /** Every event at or before this the client has seen, or skipped by its filter. */
    private StreamPosition position;
    /** The ring's next event to look at. */
    private long cursor;
    /** Whether the connection was full since the client last caught up: falling behind then is its own slowness. */
    private boolean waitedForDrain;
    private Mode mode = Mode.RING;

    EventClient(EventStream stream, Context context, HttpServerRequest request, EventFilter filter) {
        this.stream = stream;
        this.context = context;
        this.connection = request.connection();
        this.response = request.response();
        this.filter = filter;
    }

    /** Sends the headers and starts from {@code position}, at {@code cursor} in the ring when it holds what the client has not seen. */
    void begin(StreamPosition position, long cursor) {
        this.position = position;
        this.cursor = cursor;
        response.setChunked(true).setWriteQueueMaxSize(WRITE_QUEUE_BYTES)
                .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                .putHeader("Cache-Control", "no-cache")
                .putHeader("X-Accel-Buffering", "no");
        response.closeHandler(v -> close());
        response.exceptionHandler(e -> close());
        // The comment flushes the headers, so a client knows it is connected before the first event.
        response.write("retry: 3000\n: connected at " + position + "\n\n");
        if (position.covers(stream.ring().floor())) {
            pump();
        } else {
            replay();
        }
    }

    /** From the stream's consumer thread: new events are in the ring. Coalesced: one pump for many wakes. */
    void wake() {
        if (woken.compareAndSet(false, true)) {
            context.runOnContext(v -> {
                woken.set(false);
                pump();
            });
        }
    }

    void keepAlive() {
        context.runOnContext(v -> {
            if (mode != Mode.CLOSED && !response.writeQueueFull()) {
                response.write(": keep-alive\n\n");
            }
        });
    }

    void shutdown() {
        context.runOnContext(v -> goodbye("SHUTTING_DOWN", "this manager is stopping; reconnect with Last-Event-ID to another"));
    }

    private void pump() {
        if (mode != Mode.RING) {
            return;
        }
        EventRing ring = stream.ring();
        long head = ring.head();
        while (cursor < head) {
            StreamedEvent event = ring.get(cursor);
            if (event == null) {
                behind(ring);
                return;
            }
            if (response.writeQueueFull()) {
                waitedForDrain = true;
                response.drainHandler(v -> pump());
                return;
            }
            cursor++;
            send(event);
        }
        waitedForDrain = false;
    }

    /**
     * The ring no longer holds the client's place: it skips ahead if it has seen what was evicted;
     * it is cut off if it did not read while the ring moved on; else (events came faster than its
     * connection's turn on the event loop) the evicted ones are replayed from Kafka.
     */
    private void behind(EventRing ring) {
        if (position.covers(ring.floor())) {
            cursor = ring.tail();
            pump();
        } else if (waitedForDrain) {
            goodbye("TOO_SLOW", "the client fell more than " + stream.capacity()
                    + " events behind without reading; reconnect with Last-Event-ID to resume from where it stopped");
        } else {
            replay();
        }
    }

    /** Replays from Kafka what the ring no longer holds, then joins the ring at its tail. */
    private void replay() {
        mode = Mode.REPLAY;
        stream.replay(position, this::sendReplayed).whenComplete((reached, failure) -> context.runOnContext(v -> {
            if (mode == Mode.CLOSED) {
                return;
            }
            if (failure != null) { // Kafka failed the replay (a client that did not read was cut off above)
                LOG.info("event stream client at {}: replay ended: {}", position, failure.getMessage());
                goodbye("REPLAY_FAILED", "the events since " + position + " could not be replayed: " + failure.getMessage());
                return;
            }
            position = reached;
            cursor = stream.ring().tail();
            mode = Mode.RING;
            pump();
        }));
    }

    /** From a replay thread: sends the batch on the client's context; answers once the connection can take more. */
    private Future<Void> sendReplayed(List<StreamedEvent> batch) {
        Promise<Void> taken = Promise.promise();
        context.runOnContext(v -> {
            if (mode == Mode.CLOSED) {
                taken.fail("the client went away");
                return;
            }
            batch.forEach(this::send);
            if (response.writeQueueFull()) {
                long patience = context.owner().setTimer(DRAIN_PATIENCE_MILLIS, t -> {
                    goodbye("TOO_SLOW", "the client did not read the events replayed to it for " + DRAIN_PATIENCE_MILLIS / 1000
                            + " s; reconnect with Last-Event-ID to resume from where it stopped");
                    taken.tryFail("the client did not read");
                });
                response.drainHandler(d -> {
                    context.owner().cancelTimer(patience);
                    taken.tryComplete();
                });
            } else {
                taken.complete();
            }
        });
        return taken.future();
    }

    private void send(StreamedEvent event) {
        if (position.hasSeen(event.partition(), event.offset())) {
            return;
        }
        position = position.after(event.partition(), event.offset()).max(event.position());
        if (filter.matches(event)) {
            response.write(Buffer.buffer(event.data().length() + 64).appendString("id: ").appendString(position.toString())
                    .appendString("\ndata: ").appendString(event.data()).appendString("\n\n"));
        }
    }

    /** Tells the client why it is cut off, then closes its connection (at once if it does not read). */
    private void goodbye(String code, String message) {
        if (mode == Mode.CLOSED) {
            return;
        }
        mode = Mode.CLOSED;
        stream.gone(this);
        StorageBusMetrics.get().eventStreamDropped(code);
        LOG.info("event stream client cut off at {}: {} ({})", position, code, message);
        response.write("event: dropped\ndata: " + new JsonObject().put("code", code).put("message", message)
                .put("lastEventId", position.toString()).encode() + "\n\n");
        // Closed once the goodbye is on the wire, or after a while if the client does not read it.
        long closing = context.owner().setTimer(GOODBYE_MILLIS, t -> connection.close());
        response.end().onComplete(done -> {
            context.owner().cancelTimer(closing);
            connection.close();
        });
    }

    private void close() {
        if (mode != Mode.CLOSED) {
            mode = Mode.CLOSED;
            stream.gone(this);
        }
    }
}
