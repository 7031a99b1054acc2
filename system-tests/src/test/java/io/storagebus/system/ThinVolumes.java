package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.testkit.QemuProcess;
import io.storagebus.testkit.WriterGuest;
import io.storagebus.worker.qmp.QmpClient;
import io.storagebus.worker.qmp.QmpListener;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;

/**
 * What the thin-provisioning tests share: a cluster of two hosts under one extend policy,
 * volumes through REST, real QEMUs, a QMP line of their own, events.
 */
final class ThinVolumes implements AutoCloseable {
    static final Duration WAIT = Duration.ofSeconds(60);

    final Cluster cluster;
    final Http http;
    private final List<QemuProcess> qemus = new java.util.concurrent.CopyOnWriteArrayList<>();

    private ThinVolumes(Cluster cluster, Http http) {
        this.cluster = cluster;
        this.http = http;
    }

    /** ZooKeeper, Kafka, host-1 and host-2 under the policy (block stats every 500 ms), a manager. */
    static ThinVolumes start(Path tmp, io.storagebus.worker.thin.ExtendPolicy policy) throws Exception {
        Cluster cluster = new Cluster(new InProcessKafka(tmp.resolve("kafka")), tmp);
        for (String host : List.of("host-1", "host-2")) {
            cluster.startWorker(host, c -> c.withExtendPolicy(policy, Duration.ofMillis(500)));
        }
        Http http = new Http(cluster.startManager().baseUrl());
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200 && http.get("/api/v1/hosts").array().size() == 2);
        return new ThinVolumes(cluster, http);
    }

    /** The helpers on a cluster the caller started; closing them closes it. */
    static ThinVolumes on(Cluster cluster, Http http) {
        return new ThinVolumes(cluster, http);
    }

    /** A QEMU that is killed, if still running, when the tests end. */
    QemuProcess qemu(Path dir, List<String> args) throws Exception {
        QemuProcess qemu = QemuProcess.start(dir, args);
        qemus.add(qemu);
        return qemu;
    }

    @Override
    public void close() {
        qemus.forEach(QemuProcess::close);
        cluster.close();
    }

    static boolean canRun() {
        return "root".equals(System.getProperty("user.name")) && Files.exists(Path.of("/dev/loop-control")) && QemuProcess.available();
    }

    String blockDomain(String name, Path dir, String capacity) throws Exception {
        JsonObject props = new JsonObject().put("path", Files.createDirectories(dir).toString());
        if (capacity != null) {
            props.put("capacity", capacity);
        }
        Http.Response r = http.post("/api/v1/domains", new JsonObject().put("name", name).put("driver", "blockfile").put("properties", props));
        assertEquals(201, r.status(), r.body());
        return r.json().getString("id");
    }

    /** A thin qcow2 volume, READY; returns its id. */
    String thinVolume(String domainId, String name, long virtualSize, long initialSize) {
        Http.Response created = http.post("/api/v1/domains/" + domainId + "/volumes", new JsonObject().put("name", name)
                .put("virtualSize", virtualSize).put("format", "qcow2").put("initialSize", initialSize));
        assertEquals(202, created.status(), created.body());
        String volumeId = created.json().getString("volumeId");
        await().atMost(WAIT).until(() -> http.get("/api/v1/volumes/" + volumeId).json().getString("status"), "READY"::equals);
        return volumeId;
    }

    /** Prepares the volume on the host; returns the loop device a guest opens. */
    String prepare(String volumeId, String hostId) throws Exception {
        return prepare(volumeId, hostId, task -> { });
    }

    /** Prepares, handing {@code seen} every state of the task read while it ran. */
    String prepare(String volumeId, String hostId, java.util.function.Consumer<JsonObject> seen) throws Exception {
        Http.Response r = http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", hostId));
        assertEquals(202, r.status(), r.body());
        String taskId = r.json().getString("taskId");
        JsonObject task = await().atMost(WAIT).pollInterval(Duration.ofMillis(100)).until(() -> {
            JsonObject t = http.get("/api/v1/tasks/" + taskId).json();
            seen.accept(t);
            return t;
        }, t -> List.of("SUCCEEDED", "FAILED").contains(t.getString("status")));
        assertEquals("SUCCEEDED", task.getString("status"), task.encode());
        String device = loopDeviceOf(backingFile(volumeId));
        assertTrue(device.startsWith("/dev/loop"), "prepared as a loop device: " + device);
        return device;
    }

    Path backingFile(String volumeId) {
        return Path.of(URI.create(http.get("/api/v1/volumes/" + volumeId).json().getString("uri")));
    }

    void monitor(String volumeId, Path qmpSocket, String nodeName, String drive) {
        Http.Response r = http.post("/api/v1/volumes/" + volumeId + "/monitor",
                new JsonObject().put("qmpSocket", qmpSocket.toString()).put("nodeName", nodeName).put("drive", drive));
        assertEquals(202, r.status(), r.body());
    }

    /** Every event of the type about the volume (or domain), oldest first. */
    <T extends SpecificRecord> List<T> events(Class<T> type, String key) {
        return TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS).stream()
                .filter(r -> Objects.equals(r.key(), key))
                .map(r -> decode(r.value())).filter(type::isInstance).map(type::cast).toList();
    }

    private static Object decode(byte[] value) {
        try {
            return MessageCodec.standard().decode(value);
        } catch (Exception e) {
            return null;
        }
    }

    /** A QEMU argument list for a qcow2 volume on a block device: protocol node {@code vol-file}, format node {@code vol}. */
    static List<String> volumeNodes(String device) {
        return List.of("-blockdev", "driver=host_device,filename=" + device + ",node-name=vol-file",
                "-blockdev", "driver=qcow2,file=vol-file,node-name=vol");
    }

    /** A PC that runs only its firmware (nothing boots from a blank volume), the volume on a virtio-blk disk. */
    static List<String> idleGuest(String device) {
        List<String> args = new ArrayList<>(List.of("-machine", "pc", "-m", "32"));
        args.addAll(volumeNodes(device));
        args.addAll(List.of("-device", "virtio-blk-pci,drive=vol,werror=stop,rerror=stop"));
        return args;
    }

    /** The test's own QMP socket, besides the one the worker uses. */
    static List<String> testMonitor(Path dir) {
        return List.of("-qmp", "unix:" + dir.resolve("test.sock") + ",server=on,wait=off");
    }

    /**
     * A PC whose only software is the boot sector in guest/writer.asm: it writes {@code bytes} of
     * 0xA5 through a virtio-blk disk on the volume, which pauses on ENOSPC (werror=stop), then
     * powers off.
     */
    static List<String> writerGuest(Path dir, String device, long bytes) throws Exception {
        return WriterGuest.args(dir, device, bytes, false);
    }

    /**
     * The same boot sector built {@code FOREVER}: pass after pass it writes the first {@code bytes}
     * of the volume again, every byte of a pass the pass's number, and never powers off.
     */
    static List<String> writingForeverGuest(Path dir, String device, long bytes) throws Exception {
        // Direct I/O, as guests on shared storage must use: buffered writes would sit in this host's page
        // cache of the device and reach the storage later, even after the guest was stopped and its lease moved.
        return WriterGuest.args(dir, device, bytes, true).stream()
                .map(a -> a.startsWith("driver=host_device,") ? a + ",cache.direct=on" : a).toList();
    }

    /** The SHA-256 of a file's bytes, in hex. */
    static String sha256(Path file) throws Exception {
        java.security.MessageDigest digest = java.security.MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) > 0; ) {
                digest.update(buffer, 0, n);
            }
        }
        return java.util.HexFormat.of().formatHex(digest.digest());
    }

    static boolean nasmAvailable() {
        return WriterGuest.available();
    }

    static String loopDeviceOf(Path file) throws Exception {
        return output("losetup", "--noheadings", "--output", "NAME", "--associated", file.toString());
    }

    static long deviceSize(String device) throws Exception {
        return Long.parseLong(output("blockdev", "--getsize64", device));
    }

    static String output(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd));
        return out;
    }

    static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd) + ": " + out);
    }

    /** A blocking QMP line for assertions, on the test's own socket. */
    static final class TestQmp implements AutoCloseable {
        private final Vertx vertx = Vertx.vertx();
        private final QmpClient client;
        final List<JsonObject> events = new java.util.concurrent.CopyOnWriteArrayList<>();

        TestQmp(Path socket) throws Exception {
            client = QmpClient.connect(vertx, socket, new QmpListener() {
                @Override
                public void event(String name, JsonObject data, long timestampMicros) {
                    events.add(new JsonObject().put("event", name).put("data", data).put("timestampMillis", timestampMicros / 1000));
                }

                @Override
                public void closed(QmpClient c, Throwable cause) {
                }
            }).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }

        Object execute(String command, JsonObject args) throws Exception {
            return client.execute(command, args).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }

        /** Runs qemu-io through HMP; a refused command fails the test, I/O results show in {@link #failedWrites}. */
        void qemuIo(String node, String command) throws Exception {
            Object said = execute("human-monitor-command", new JsonObject().put("command-line", "qemu-io " + node + " \"" + command + "\""));
            assertFalse(String.valueOf(said).startsWith("Error"), "qemu-io " + node + " " + command + ": " + said);
        }

        long failedWrites(String node) throws Exception {
            for (Object o : (JsonArray) execute("query-blockstats", new JsonObject().put("query-nodes", true))) {
                JsonObject n = (JsonObject) o;
                if (node.equals(n.getString("node-name"))) {
                    return n.getJsonObject("stats").getLong("failed_wr_operations", 0L);
                }
            }
            throw new AssertionError("QEMU has no node " + node);
        }

        /** Quits QEMU cleanly (the image's caches are written out) and waits for it to exit. */
        void quit(QemuProcess qemu) {
            client.execute("quit");
            assertTrue(qemu.awaitExit(WAIT), qemu + " did not quit");
        }

        String status() throws Exception {
            return ((JsonObject) execute("query-status", null)).getString("status");
        }

        long writeThreshold(String node) throws Exception {
            for (Object o : (JsonArray) execute("query-named-block-nodes", null)) {
                JsonObject n = (JsonObject) o;
                if (node.equals(n.getString("node-name"))) {
                    return n.getLong("write_threshold", 0L);
                }
            }
            throw new AssertionError("QEMU has no node " + node);
        }

        @Override
        public void close() {
            client.close();
            vertx.close();
        }
    }
}
