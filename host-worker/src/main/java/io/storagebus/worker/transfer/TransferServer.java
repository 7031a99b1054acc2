package io.storagebus.worker.transfer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.schema.TransferDirection;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the image transfers the SPM job of this host opened, under {@code /images/<ticket>}:
 * the ticket (256 random bits, in the URL the manager hands to the client that asked) is the
 * transfer's only credential, and it dies with the transfer.
 *
 * <ul>
 *   <li>{@code PUT} (upload): a chunk, placed by {@code Content-Range: bytes START-END/TOTAL}
 *       (no header: the whole image); chunks come in any order, zero ranges need not come at
 *       all (the staged image is sparse, so they stay holes), a chunk sent again overwrites.
 *       A chunk counts once its last byte is on disk: a broken connection loses that chunk only.</li>
 *   <li>{@code GET} (download): the image, or one {@code Range: bytes=START-END} of it (206);
 *       {@code GET .../extents}: where it has data and where zeros, so a client fetches only data.</li>
 *   <li>{@code GET .../status}: the ranges that arrived (a client resuming sends the rest), bytes done.</li>
 *   <li>{@code POST .../finish} {@code {"sha256", "size"}}: the end; the answer comes once the SPM
 *       checked the image against the checksum and stored it. {@code DELETE}: cancels.</li>
 * </ul>
 * Errors are JSON {@code {"code", "message"}}.
 */
public final class TransferServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TransferServer.class);
    private static final String PREFIX = "/images/";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final TransferEndpoint endpoint;
    private final Lifecycle lifecycle = new Lifecycle("transfer server");
    private final Map<String, TransferSession> sessions = new ConcurrentHashMap<>();
    private Vertx vertx;
    private HttpServer server;

    public TransferServer(TransferEndpoint endpoint) {
        this.endpoint = endpoint;
    }

    public TransferServer start() throws Exception {
        lifecycle.start();
        emptyStaging();
        vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2));
        try {
            server = vertx.createHttpServer().requestHandler(this::handle).listen(endpoint.port(), endpoint.bindHost())
                    .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            vertx.close();
            throw new IOException("cannot serve image transfers on " + endpoint.bindHost() + ":" + endpoint.port() + " (worker.transfer-port; "
                    + "another worker on this machine needs another port): " + e.getCause().getMessage(), e.getCause());
        }
        LOG.info("image transfers served at {}", baseUrl());
        return this;
    }

    /** What a previous run of this worker staged belongs to transfers that ended with it. */
    private void emptyStaging() throws IOException {
        Files.createDirectories(endpoint.stagingDirectory());
        try (Stream<Path> files = Files.list(endpoint.stagingDirectory())) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(f);
            }
        }
    }

    private String baseUrl() {
        return "http://" + endpoint.advertisedHost() + ":" + server.actualPort() + PREFIX;
    }

    /** Where the transfer of task {@code taskId} stages its image ({@code suffix} tells a transfer's files apart). */
    public Path stagingFile(String taskId, String suffix) {
        return endpoint.stagingDirectory().resolve(taskId + "." + suffix);
    }

    /** Serves {@code session} from now on; returns its URL. */
    public String open(TransferSession session) {
        byte[] ticket = new byte[32];
        RANDOM.nextBytes(ticket);
        String id = HexFormat.of().formatHex(ticket);
        sessions.put(id, session);
        return baseUrl() + id;
    }

    /** Stops serving {@code session}: later requests get 404. */
    public void close(TransferSession session) {
        sessions.values().remove(session);
    }

    private void handle(HttpServerRequest request) {
        String path = request.path();
        if (!path.startsWith(PREFIX)) {
            error(request, 404, "NOT_FOUND", "no such resource: " + path);
            return;
        }
        String rest = path.substring(PREFIX.length());
        int slash = rest.indexOf('/');
        String ticket = slash < 0 ? rest : rest.substring(0, slash);
        String action = slash < 0 ? "" : rest.substring(slash + 1);
        TransferSession session = sessions.get(ticket);
        if (session == null) {
            error(request, 404, "TRANSFER_NOT_FOUND", "no transfer here under this URL: it ended (finished, cancelled or expired) or never was");
            return;
        }
        HttpMethod method = request.method();
        switch (action) {
            case "" -> {
                if (method == HttpMethod.PUT && session.direction() == TransferDirection.UPLOAD) {
                    upload(request, session);
                } else if (method == HttpMethod.GET && session.direction() == TransferDirection.DOWNLOAD) {
                    download(request, session);
                } else if (method == HttpMethod.DELETE) {
                    session.cancel();
                    request.response().setStatusCode(204).end();
                } else {
                    error(request, 405, "METHOD_NOT_ALLOWED", "a " + session.direction() + " takes "
                            + (session.direction() == TransferDirection.UPLOAD ? "PUT" : "GET") + " (and DELETE to cancel)");
                }
            }
            case "status" -> json(request, 200, status(session));
            case "extents" -> request.response().setStatusCode(200).putHeader("Content-Type", "application/json").end(session.extentsJson());
            case "finish" -> {
                if (method != HttpMethod.POST) {
                    error(request, 405, "METHOD_NOT_ALLOWED", "finish with POST");
                    return;
                }
                finish(request, session);
            }
            default -> error(request, 404, "NOT_FOUND", "no such resource: " + path);
        }
    }

    private static JsonObject status(TransferSession session) {
        JsonArray ranges = new JsonArray();
        session.received().list().forEach(r -> ranges.add(new JsonArray().add(r[0]).add(r[1])));
        return new JsonObject().put("direction", session.direction().name()).put("size", session.size() < 0 ? null : session.size())
                .put("doneBytes", session.doneBytes()).put("received", ranges);
    }

    private void upload(HttpServerRequest request, TransferSession session) {
        String length = request.getHeader("Content-Length");
        if (length == null) {
            error(request, 411, "LENGTH_REQUIRED", "a chunk needs a Content-Length");
            return;
        }
        ContentRange range;
        try {
            range = ContentRange.ofUpload(request.getHeader("Content-Range"), Long.parseLong(length));
        } catch (IllegalArgumentException e) {
            error(request, 400, "INVALID_RANGE", e.getMessage());
            return;
        }
        if (range.total() > session.maxSize()) {
            error(request, 413, "IMAGE_TOO_LARGE", "the image is " + range.total() + " bytes; this volume takes an image of at most "
                    + session.maxSize());
            return;
        }
        if (!session.fixSize(range.total())) {
            error(request, 409, "SIZE_CHANGED", "the image was " + session.size() + " bytes long in earlier chunks, this one says "
                    + range.total());
            return;
        }
        if (!session.startChunk()) {
            error(request, 409, "TRANSFER_ENDING", "this transfer was finished or cancelled; it takes no more data");
            return;
        }
        session.begin();
        request.pause();
        vertx.fileSystem().open(session.image().toString(), new OpenOptions().setWrite(true).setCreate(true).setTruncateExisting(false))
                .compose(file -> {
                    file.setWritePos(range.start());
                    return request.pipeTo(file);
                })
                .onComplete(done -> {
                    if (done.succeeded() && request.bytesRead() == range.length()) {
                        session.received().add(range.start(), range.endExclusive());
                    }
                    session.chunkDone();
                    session.done();
                    if (done.failed()) {
                        LOG.info("transfer {}: chunk at {} not taken: {}", session.taskId(), range.start(), done.cause().toString());
                        if (!request.response().closed()) {
                            error(request, 500, "WRITE_FAILED", "the chunk was not stored: " + done.cause().getMessage());
                        }
                        return;
                    }
                    if (request.bytesRead() != range.length()) {
                        error(request, 400, "INCOMPLETE_CHUNK", "the body had " + request.bytesRead() + " of " + range.length() + " bytes");
                        return;
                    }
                    json(request, 200, new JsonObject().put("doneBytes", session.doneBytes()));
                });
    }

    private void download(HttpServerRequest request, TransferSession session) {
        ContentRange range;
        try {
            range = ContentRange.ofDownload(request.getHeader("Range"), session.size());
        } catch (IllegalArgumentException e) {
            request.response().putHeader("Content-Range", "bytes */" + session.size());
            error(request, 416, "INVALID_RANGE", e.getMessage());
            return;
        }
        session.begin();
        boolean partial = request.getHeader("Range") != null;
        request.response().setStatusCode(partial ? 206 : 200).putHeader("Content-Type", "application/octet-stream")
                .putHeader("Accept-Ranges", "bytes");
        if (partial) {
            request.response().putHeader("Content-Range", "bytes " + range.start() + "-" + (range.endExclusive() - 1) + "/" + range.total());
        }
        Future<Void> sent = range.length() == 0 ? request.response().end()
                : request.response().sendFile(session.image().toString(), range.start(), range.length());
        sent.onComplete(done -> {
            session.done();
            if (done.succeeded()) {
                session.sent(range.length());
            }
        });
    }

    private void finish(HttpServerRequest request, TransferSession session) {
        session.begin();
        request.body().onComplete(body -> {
            JsonObject asked;
            try {
                asked = body.succeeded() && body.result().length() > 0 ? body.result().toJsonObject() : new JsonObject();
                if (asked.containsKey("size") && !(asked.getValue("size") instanceof Number)) {
                    throw new IllegalArgumentException("size must be a number");
                }
            } catch (RuntimeException e) {
                session.done();
                error(request, 400, "INVALID_BODY", "finish takes {\"sha256\": hex, \"size\": bytes}: " + e.getMessage());
                return;
            }
            String sha256 = asked.getString("sha256");
            Long size = asked.getLong("size");
            Future.fromCompletionStage(session.finish(sha256, size), vertx.getOrCreateContext()).onComplete(answered -> {
                session.done();
                TransferSession.Answer a = answered.result();
                JsonObject out = a.code() == null ? new JsonObject().put("sha256", a.sha256()).put("size", a.size())
                        : new JsonObject().put("code", a.code()).put("message", a.message());
                json(request, a.status(), out);
            });
        });
    }

    private static void json(HttpServerRequest request, int status, JsonObject body) {
        request.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
    }

    private static void error(HttpServerRequest request, int status, String code, String message) {
        json(request, status, new JsonObject().put("code", code).put("message", message));
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        sessions.values().forEach(TransferSession::cancel);
        vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> null).join();
        try {
            Files.deleteIfExists(endpoint.stagingDirectory()); // emptied by the transfers' jobs; one still ending leaves it
        } catch (IOException e) {
            LOG.debug("staging directory {} stays: {}", endpoint.stagingDirectory(), e.toString());
        }
    }
}
