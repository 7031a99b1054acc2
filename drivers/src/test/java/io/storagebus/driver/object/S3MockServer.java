package io.storagebus.driver.object;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Adobe's S3Mock, a real S3-compatible HTTP server, run as a separate Java process the way an
 * object store is a separate service. The jar comes from Maven Central through the build.
 */
public final class S3MockServer implements AutoCloseable {
    public static final String BUCKET = "sb-test";

    private final Process process;
    private final int port;

    private S3MockServer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static S3MockServer start(Path root) throws IOException {
        String jar = System.getProperty("s3mock.jar", "target/s3mock/s3mock.jar");
        if (!Files.exists(Path.of(jar))) {
            throw new IllegalStateException("S3Mock jar missing at " + jar + ": run the tests through Maven");
        }
        int port = freePort();
        Files.createDirectories(root);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(List.of(java, "-Xmx384m", "-jar", jar,
                "--http.port=" + port, "--server.port=0",
                "--com.adobe.testing.s3mock.store.root=" + root.resolve("store"),
                "--com.adobe.testing.s3mock.store.initial-buckets=" + BUCKET,
                "--spring.main.banner-mode=off", "--logging.level.root=WARN"))
                .redirectErrorStream(true)
                .redirectOutput(root.resolve("s3mock.log").toFile())
                .start();
        S3MockServer server = new S3MockServer(process, port);
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> !process.isAlive() || server.accepting());
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
        if (!process.isAlive()) {
            throw new IllegalStateException("S3Mock exited: " + Files.readString(root.resolve("s3mock.log")));
        }
        return server;
    }

    private boolean accepting() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    /** A property bag for an object domain on this server. */
    public Map<String, String> domainProperties() {
        Map<String, String> bag = new HashMap<>();
        bag.put(ObjectDriver.ENDPOINT, endpoint());
        bag.put(ObjectDriver.BUCKET, BUCKET);
        bag.put(ObjectDriver.ACCESS_KEY, "storagebus");
        bag.put(ObjectDriver.SECRET_KEY, "not-a-real-secret-0123456789");
        bag.put(ObjectDriver.PART_SIZE, "5M");
        return bag;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(java.util.concurrent.TimeUnit.SECONDS.toMillis(10), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
