package io.storagebus.system;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Docker engine and the images the Docker tests run. CI starts an engine and says so with
 * {@code STORAGEBUS_DOCKER=required}: there a missing engine fails the tests instead of skipping
 * them. Official images are used where they can be pulled; where no registry answers (CI), the
 * images {@code compose/ci/images.sh} makes from Debian packages and the distribution's Maven
 * artifacts stand in for them, built once per test run.
 */
final class DockerImages {
    static final String OFFICIAL_KAFKA = "apache/kafka:4.3.1";
    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    private static Map<String, String> built;

    private DockerImages() {
    }

    /** Skips the test where no engine runs and none is required; fails it where CI requires one. */
    static void requireEngine() {
        boolean running = run(List.of("docker", "info"), 60).exit() == 0;
        if ("required".equals(System.getenv("STORAGEBUS_DOCKER"))) {
            assertEquals(true, running, "STORAGEBUS_DOCKER=required but no Docker engine answers `docker info`");
        }
        assumeTrue(running, "no Docker engine runs here (CI starts one: .ci/run)");
    }

    /** The Kafka image for Testcontainers: the official one if it is here or can be pulled, else CI's stand-in. */
    static synchronized String kafka() {
        if (run(List.of("docker", "image", "inspect", OFFICIAL_KAFKA), 30).exit() == 0
                || run(List.of("docker", "pull", "-q", OFFICIAL_KAFKA), 120).exit() == 0) {
            return OFFICIAL_KAFKA;
        }
        return ciImages().get("KAFKA_IMAGE");
    }

    /**
     * Builds CI's images (once per test run: the StorageBus image carries this build) and returns
     * the variables that make compose/docker-compose.yml use them.
     */
    static synchronized Map<String, String> ciImages() {
        if (built == null) {
            long started = System.nanoTime();
            Result r = run(List.of("bash", REPO.resolve("compose/ci/images.sh").toString()), 900);
            assertEquals(0, r.exit(), "compose/ci/images.sh failed:\n" + r.output());
            Map<String, String> variables = new HashMap<>();
            r.output().lines().filter(l -> l.matches("[A-Z_]+=\\S+")).forEach(l -> variables.put(l.substring(0, l.indexOf('=')),
                    l.substring(l.indexOf('=') + 1)));
            System.out.printf("compose/ci/images.sh built CI's images in %.0f s: %s%n", (System.nanoTime() - started) / 1e9, variables);
            built = Map.copyOf(variables);
        }
        return built;
    }

    record Result(int exit, String output) {
    }

    /** Runs a command to its end (or kills it after {@code timeoutSeconds}), with its output. */
    static Result run(List<String> command, long timeoutSeconds) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            byte[][] out = new byte[1][];
            Thread reader = new Thread(() -> {
                try {
                    out[0] = p.getInputStream().readAllBytes();
                } catch (IOException e) {
                    out[0] = new byte[0];
                }
            });
            reader.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                reader.join(5000);
                return new Result(-1, String.join(" ", command) + ": still running after " + timeoutSeconds + " s");
            }
            reader.join();
            return new Result(p.exitValue(), new String(out[0], StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new Result(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }
}
