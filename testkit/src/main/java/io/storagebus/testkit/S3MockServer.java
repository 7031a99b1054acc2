package io.storagebus.testkit;

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
import java.util.concurrent.TimeUnit;

/**
 * Adobe's S3Mock, a real S3-compatible HTTP server, run as a separate Java process the way an
 * object store is a separate service. Modules whose tests use it copy the jar from Maven Central
 * ({@code com.adobe.testing:s3mock:exec}) and pass its path as the system property {@code s3mock.jar}.
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
                // Its default of 10 MB would refuse the object driver's larger multipart parts.
                "--com.adobe.testing.s3mock.max-payload-size=512MB",
                "--spring.main.banner-mode=off", "--logging.level.root=WARN"))
                .redirectErrorStream(true)
                .redirectOutput(root.resolve("s3mock.log").toFile())
                .start();
        S3MockServer server = new S3MockServer(process, port);
        // Startup of another process: there is no event to wait for, so poll its port briefly.
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (process.isAlive() && !server.accepting()) {
            if (System.nanoTime() > deadline) {
                server.close();
                throw new IllegalStateException("S3Mock did not open port " + port + " within 60 s");
            }
            try {
                process.waitFor(100, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                server.close();
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while S3Mock started", e);
            }
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

    /** A property bag for an {@code object} domain on this server (S3Mock accepts any keys). */
    public Map<String, String> domainProperties() {
        return properties(endpoint());
    }

    /** The same for an S3Mock reached at {@code endpoint} (from inside a test VM, say). */
    public static Map<String, String> properties(String endpoint) {
        Map<String, String> bag = new HashMap<>();
        bag.put("endpoint", endpoint);
        bag.put("bucket", BUCKET);
        bag.put("access_key", "storagebus");
        bag.put("secret_key", "not-a-real-secret-0123456789");
        bag.put("part_size", "5M");
        return bag;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(TimeUnit.SECONDS.toMillis(10), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
