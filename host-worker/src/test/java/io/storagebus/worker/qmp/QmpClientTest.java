package io.storagebus.worker.qmp;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.storagebus.testkit.QemuProcess;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The QMP client against a real QEMU ({@code -machine none}) with a qcow2 disk on a file. */
class QmpClientTest {
    @TempDir
    Path dir;
    private Vertx vertx;
    private QemuProcess qemu;
    private final List<String> events = new CopyOnWriteArrayList<>();
    private final List<Throwable> closes = new CopyOnWriteArrayList<>();
    private final QmpListener listener = new QmpListener() {
        @Override
        public void event(String name, JsonObject data, long timestampMicros) {
            events.add(name + " " + data.encode());
        }

        @Override
        public void closed(QmpClient client, Throwable cause) {
            closes.add(cause);
        }
    };

    @BeforeAll
    static void needsQemu() {
        assumeTrue(QemuProcess.available(), "skipped: " + QemuProcess.BINARY + " is not installed");
    }

    @BeforeEach
    void startQemu() throws Exception {
        vertx = Vertx.vertx();
        Path image = dir.resolve("disk.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "64M");
        qemu = QemuProcess.start(dir.resolve("vm"), List.of("-machine", "none",
                "-blockdev", "driver=file,filename=" + image + ",node-name=disk0-file",
                "-blockdev", "driver=qcow2,file=disk0-file,node-name=disk0"));
    }

    @AfterEach
    void stop() {
        if (qemu != null) {
            qemu.close();
        }
        vertx.close().await();
    }

    @Test
    void negotiatesRunsCommandsAndDeliversWriteThresholdEvents() throws Exception {
        QmpClient client = get(QmpClient.connect(vertx, qemu.qmpSocket(), listener));
        JsonObject status = (JsonObject) get(client.execute("query-status"));
        assertEquals("running", status.getString("status"));

        get(client.execute("block-set-write-threshold", new JsonObject().put("node-name", "disk0-file").put("write-threshold", 2L << 20)));
        hmp(client, "qemu-io disk0 \"write -P 0x5a 0 4M\"");
        await().atMost(Duration.ofSeconds(10)).until(() -> events.stream().anyMatch(e -> e.startsWith("BLOCK_WRITE_THRESHOLD")));
        String event = events.stream().filter(e -> e.startsWith("BLOCK_WRITE_THRESHOLD")).findFirst().orElseThrow();
        assertTrue(event.contains("\"node-name\":\"disk0-file\""), event);

        JsonArray stats = (JsonArray) get(client.execute("query-blockstats", new JsonObject().put("query-nodes", true)));
        long highest = stats.stream().map(JsonObject.class::cast).filter(s -> "disk0-file".equals(s.getString("node-name")))
                .mapToLong(s -> s.getJsonObject("stats").getLong("wr_highest_offset")).findFirst().orElseThrow();
        assertTrue(highest > 2L << 20, "highest write offset past the threshold: " + highest);
        client.close();
    }

    @Test
    void aRefusedCommandFailsWithQemusErrorClass() throws Exception {
        QmpClient client = get(QmpClient.connect(vertx, qemu.qmpSocket(), listener));
        ExecutionException e = failure(client.execute("no-such-command"));
        QmpException qmp = assertInstanceOf(QmpException.class, e.getCause());
        assertEquals("CommandNotFound", qmp.errorClass());
        e = failure(client.execute("block-set-write-threshold", new JsonObject().put("node-name", "nope").put("write-threshold", 1)));
        assertEquals("GenericError", ((QmpException) e.getCause()).errorClass());
        client.close();
    }

    @Test
    void qemuExitingClosesTheClientAndFailsWhatIsPending() throws Exception {
        QmpClient client = get(QmpClient.connect(vertx, qemu.qmpSocket(), listener));
        qemu.kill();
        await().atMost(Duration.ofSeconds(10)).until(() -> !closes.isEmpty());
        assertFalse(client.isOpen());
        QmpException e = assertInstanceOf(QmpException.class, failure(client.execute("query-status")).getCause());
        assertEquals("Disconnected", e.errorClass());
    }

    /**
     * QEMU answers one client per QMP socket and leaves the next connected but unanswered: a
     * socket another client holds fails the connect with a reason, and the failed client leaves
     * the queue, so the socket's next client is greeted once the holder goes.
     */
    @Test
    void aSocketAnotherClientHoldsFailsTheConnectAndIsFreeOnceTheHolderLeaves() throws Exception {
        try (SocketChannel holder = SocketChannel.open(UnixDomainSocketAddress.of(qemu.qmpSocket()))) {
            ByteBuffer greeting = ByteBuffer.allocate(512);
            holder.read(greeting);
            assertTrue(new String(greeting.array(), 0, greeting.position(), StandardCharsets.UTF_8).contains("\"QMP\""));

            QmpException e = assertInstanceOf(QmpException.class, failure(QmpClient.connect(vertx, qemu.qmpSocket(), listener)).getCause());
            assertEquals("NoGreeting", e.errorClass());
            assertTrue(e.getMessage().contains("another client holds this QMP socket"), e.getMessage());
        }
        QmpClient client = get(QmpClient.connect(vertx, qemu.qmpSocket(), listener));
        assertEquals("running", ((JsonObject) get(client.execute("query-status"))).getString("status"));
        client.close();
    }

    @Test
    void connectingToNoQemuFails() {
        ExecutionException e = failure(QmpClient.connect(vertx, dir.resolve("absent.sock"), listener));
        assertTrue(e.getCause().getMessage() != null, "a reason is given");
    }

    private static void hmp(QmpClient client, String command) throws Exception {
        Object out = get(client.execute("human-monitor-command", new JsonObject().put("command-line", command)));
        assertEquals("", out.toString().trim(), "HMP printed an error: " + out);
    }

    private static <T> T get(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private static ExecutionException failure(Future<?> future) {
        try {
            future.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("expected a failure");
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd));
    }
}
