package io.storagebus.worker.qmp;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.SocketAddress;
import io.vertx.core.parsetools.RecordParser;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One QMP connection to a QEMU process over its unix socket, asynchronous on a Vert.x context:
 * the greeting and capability negotiation happen in {@link #connect}, commands return futures
 * matched to their replies by id, and events go to the {@link QmpListener}. Nothing blocks; all
 * state is touched on the connection's context only.
 */
public final class QmpClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QmpClient.class);

    /**
     * How long QEMU may take to greet a new connection. QEMU serves one client per QMP socket and
     * keeps a second one connected but unanswered until the first leaves, so a socket another
     * client holds (libvirt keeps its own monitor's) would otherwise be waited on forever.
     */
    static final Duration GREETING_TIMEOUT = Duration.ofSeconds(5);

    private enum State { CONNECTING, READY, CLOSED }

    private final Vertx vertx;
    private final Path socketPath;
    private final QmpListener listener;
    private final Context context;
    private final NetClient netClient;
    private final Map<String, Promise<Object>> pending = new HashMap<>();
    private final AtomicReference<State> state = new AtomicReference<>(State.CONNECTING);
    private Promise<Void> greeted;
    private NetSocket socket;
    private long nextId;

    private QmpClient(Vertx vertx, Context context, Path socketPath, QmpListener listener) {
        this.vertx = vertx;
        this.socketPath = socketPath;
        this.listener = listener;
        this.context = context;
        this.netClient = vertx.createNetClient();
    }

    /** Connects, reads the greeting and leaves capability-negotiation mode. */
    public static Future<QmpClient> connect(Vertx vertx, Path socketPath, QmpListener listener) {
        Context context = Vertx.currentContext() != null ? Vertx.currentContext() : vertx.getOrCreateContext();
        QmpClient client = new QmpClient(vertx, context, socketPath, listener);
        Promise<QmpClient> ready = Promise.promise();
        context.runOnContext(v -> client.open().onComplete(ar -> {
            if (ar.succeeded()) {
                ready.complete(client);
            } else {
                client.shutdown(ar.cause(), false);
                ready.fail(ar.cause());
            }
        }));
        return ready.future();
    }

    private Future<Void> open() {
        greeted = Promise.promise();
        return netClient.connect(SocketAddress.domainSocketAddress(socketPath.toString()))
                .compose(s -> {
                    socket = s;
                    s.handler(RecordParser.newDelimited("\n", this::line));
                    s.closeHandler(v -> shutdown(new QmpException("Disconnected", "QMP socket " + socketPath + " closed"), true));
                    s.exceptionHandler(e -> LOG.debug("QMP {}: {}", socketPath, e.toString()));
                    long silence = vertx.setTimer(GREETING_TIMEOUT.toMillis(), t -> greeted.tryFail(new QmpException("NoGreeting",
                            "QEMU at " + socketPath + " took the connection but sent no greeting within " + GREETING_TIMEOUT.toSeconds()
                                    + " s: another client holds this QMP socket, and QEMU serves one at a time; give StorageBus a QMP "
                                    + "socket of its own (a second -qmp option)")));
                    return greeted.future().onComplete(ar -> vertx.cancelTimer(silence));
                })
                .compose(v -> execute("qmp_capabilities"))
                .map(r -> {
                    state.compareAndSet(State.CONNECTING, State.READY);
                    return (Void) null;
                });
    }

    public boolean isOpen() {
        return state.get() != State.CLOSED;
    }

    public Future<Object> execute(String command) {
        return execute(command, null);
    }

    /** Runs a QMP command; the future holds its {@code return} value (a JsonObject, a JsonArray, ...). */
    public Future<Object> execute(String command, JsonObject arguments) {
        Promise<Object> reply = Promise.promise();
        context.runOnContext(v -> {
            if (state.get() == State.CLOSED || socket == null) {
                reply.fail(new QmpException("Disconnected", "QMP socket " + socketPath + " is closed"));
                return;
            }
            String id = Long.toString(++nextId);
            JsonObject request = new JsonObject().put("execute", command).put("id", id);
            if (arguments != null) {
                request.put("arguments", arguments);
            }
            pending.put(id, reply);
            socket.write(request.encode() + "\n");
        });
        return reply.future();
    }

    private void line(Buffer buffer) {
        JsonObject message;
        try {
            message = buffer.toJsonObject();
        } catch (DecodeException e) {
            LOG.warn("QMP {}: ignoring a line that is not JSON: {}", socketPath, buffer);
            return;
        }
        if (message.containsKey("QMP")) {
            greeted.tryComplete();
        } else if (message.containsKey("event")) {
            JsonObject ts = message.getJsonObject("timestamp", new JsonObject());
            long micros = ts.getLong("seconds", 0L) * 1_000_000 + ts.getLong("microseconds", 0L);
            try {
                listener.event(message.getString("event"), message.getJsonObject("data", new JsonObject()), micros);
            } catch (RuntimeException e) {
                LOG.error("QMP {}: the listener failed on {}", socketPath, message.getString("event"), e);
            }
        } else {
            Promise<Object> reply = pending.remove(String.valueOf(message.getValue("id")));
            if (reply == null) {
                LOG.debug("QMP {}: reply to no pending command: {}", socketPath, message);
            } else if (message.containsKey("error")) {
                JsonObject error = message.getJsonObject("error");
                reply.fail(new QmpException(error.getString("class"), error.getString("desc")));
            } else {
                reply.complete(message.getValue("return"));
            }
        }
    }

    private void shutdown(Throwable cause, boolean notify) {
        if (state.getAndSet(State.CLOSED) == State.CLOSED) {
            return;
        }
        QmpException failure = cause instanceof QmpException q ? q : new QmpException("Disconnected", cause.getMessage());
        pending.values().forEach(p -> p.tryFail(failure));
        pending.clear();
        if (greeted != null) {
            greeted.tryFail(failure);
        }
        netClient.close();
        if (notify) {
            listener.closed(this, failure);
        }
    }

    @Override
    public void close() {
        context.runOnContext(v -> {
            NetSocket s = socket;
            shutdown(new QmpException("Disconnected", "closed by StorageBus"), false);
            if (s != null) {
                s.close();
            }
        });
    }
}
