package io.storagebus.system;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.storagebus.testkit.StorageBusProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compose deployment as far as a machine without a Docker engine can check it: the file is
 * valid compose, and the configuration files it mounts are what the processes accept.
 */
class ComposeFileIT {
    private static final Path COMPOSE = Path.of("..", "compose").toAbsolutePath().normalize();
    private final Path dist = Path.of(System.getProperty("storagebus.dist"));

    @TempDir
    Path tmp;

    @Test
    void dockerComposeAcceptsTheFile() throws Exception {
        assumeTrue(onPath("docker-compose"), "docker-compose is not installed (.ci/run installs it)");
        Process config = new ProcessBuilder("docker-compose", "-f", COMPOSE.resolve("docker-compose.yml").toString(), "config", "--services")
                .redirectErrorStream(true).start();
        String services = new String(config.getInputStream().readAllBytes());
        assertEquals(0, config.waitFor(), services);
        assertEquals(List.of("kafka-1", "kafka-2", "kafka-3", "manager-1", "manager-2", "worker-1", "worker-2", "worker-3", "zk1", "zk2", "zk3"),
                services.lines().sorted().toList(), services);
    }

    @Test
    void theMountedConfigurationFilesAreAcceptedWithTheEnvironmentComposeSets() throws Exception {
        assertEquals(0, run(List.of("config", "check", COMPOSE.resolve("config/manager.conf").toString()), Map.of()));
        assertEquals(0, run(List.of("config", "show", "manager", "--config", COMPOSE.resolve("config/manager.conf").toString()),
                Map.of("STORAGEBUS_MANAGER_ID", "manager-2", "STORAGEBUS_MANAGER_ADVERTISED_URL", "http://localhost:8081")));
        assertEquals(0, run(List.of("config", "show", "worker", "--config", COMPOSE.resolve("config/worker.conf").toString()),
                Map.of("STORAGEBUS_WORKER_HOST_ID", "host-1", "STORAGEBUS_KAFKA_SASL_USERNAME", "sb-host-1",
                        "STORAGEBUS_KAFKA_SASL_PASSWORD_FILE", "/etc/storagebus/secrets/sb-host-1.password")));
        assertEquals(1, run(List.of("config", "show", "worker", "--config", COMPOSE.resolve("config/worker.conf").toString()), Map.of()),
                "without its host id a worker's configuration is incomplete");
    }

    private int run(List<String> args, Map<String, String> env) throws Exception {
        StorageBusProcess p = new StorageBusProcess(dist, "compose-" + System.nanoTime(), args, env, tmp);
        int exit = p.start().waitFor(Duration.ofSeconds(60));
        assertTrue(Files.exists(p.log()));
        return exit;
    }

    private static boolean onPath(String command) {
        return List.of(System.getenv().getOrDefault("PATH", "").split(":")).stream().anyMatch(d -> Files.isExecutable(Path.of(d, command)));
    }
}
