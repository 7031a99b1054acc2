package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.Role;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.subscriber.StorageSubscriber;
import io.storagebus.subscriber.Vote;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The web console in a real browser: Debian's chromium, driven by Playwright
 * ({@code src/test/console/console.spec.mjs}) against a manager with tokens and a worker. What
 * it checks is in the script; its screenshots go to {@code target/console-screenshots}. Without
 * chromium it is skipped, except under {@code .ci/run} ({@code STORAGEBUS_BROWSER=required}),
 * which installs it. A subscriber, {@code change-board}, takes part in the maintenance vote: it
 * holds its vote until the script, having seen it missing, prints {@value #CUE}, so the script
 * watches a vote arrive.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsoleIT {
    private static final Path SCRIPTS = Path.of("src/test/console").toAbsolutePath();
    private static final String VOTER = "change-board";
    private static final String CUE = "CUE: vote now, " + VOTER;
    private final CompletableFuture<MaintenanceRequested> asked = new CompletableFuture<>();
    private StorageSubscriber board;
    private final String admin = ApiTokens.generate();
    private Cluster cluster;
    private String url;
    private Path files;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        boolean browser = Files.isExecutable(Path.of("/usr/bin/chromium"));
        if ("required".equals(System.getenv("STORAGEBUS_BROWSER"))) {
            assertTrue(browser, "STORAGEBUS_BROWSER=required but /usr/bin/chromium is missing: apt-get install chromium");
        }
        Assumptions.assumeTrue(browser, "the console tests need Debian's chromium (apt-get install chromium); .ci/run installs it");
        if (!Files.isDirectory(SCRIPTS.resolve("node_modules/playwright-core"))) {
            assertEquals(0, run(new ProcessBuilder("npm", "ci", "--no-audit", "--no-fund"), Duration.ofMinutes(5), line -> { }), "npm ci of playwright-core");
        }
        Path tokens = Files.writeString(dir.resolve("api-tokens"), ApiTokens.line("console", Role.ADMIN, admin) + "\n");
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        cluster.manager = cluster.startManager("manager-1", c -> c.withApiTokens(tokens));
        url = cluster.manager.baseUrl() + "/";
        Http http = new Http(cluster.manager.baseUrl(), admin);
        await().atMost(Duration.ofSeconds(90)).until(() -> http.get("/api/v1/health").status() == 200);
        files = Files.createDirectories(dir.resolve("files"));
        board = StorageSubscriber.builder(cluster.kafka.bootstrapServers(), VOTER).description("the change board: votes when it has met")
                .silence(SilencePolicy.VETO).heartbeatInterval(Duration.ofSeconds(1)).voter(request -> {
                    asked.complete(request);
                    return null; // answered later, on the script's cue
                }).build();
        board.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/api/v1/subscribers").array().stream().map(JsonObject.class::cast)
                .anyMatch(s -> VOTER.equals(s.getString("id")) && s.getBoolean("alive")));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(board, cluster);
    }

    @Test
    void anOperatorSignsInCreatesADomainAndAVolumeAndSeesMaintenanceVotes() throws Exception {
        Path screenshots = Files.createDirectories(Path.of("target/console-screenshots").toAbsolutePath());
        ProcessBuilder browser = new ProcessBuilder("node", "console.spec.mjs");
        browser.environment().put("CONSOLE_URL", url);
        browser.environment().put("CONSOLE_TOKEN", admin);
        browser.environment().put("FILES_DIR", files.toString());
        browser.environment().put("SCREENSHOTS", screenshots.toString());
        browser.environment().put("VOTER", VOTER);
        browser.environment().put("CUE", CUE);
        assertEquals(0, run(browser, Duration.ofMinutes(5), line -> {
            if (line.contains(CUE)) {
                asked.thenAccept(request -> board.vote(request, Vote.consent()));
            }
        }), "the console script's steps (its output above); screenshots in " + screenshots);
        assertTrue(Files.size(screenshots.resolve("console.png")) > 10_000, "a screenshot of the console");
    }

    /** Runs the command in the scripts' directory, its output copied to the test's and each line handed to {@code onLine}. */
    private static int run(ProcessBuilder command, Duration timeout, Consumer<String> onLine) throws Exception {
        Process process = command.directory(SCRIPTS.toFile()).redirectErrorStream(true).start();
        Thread copy = new Thread(() -> process.inputReader().lines().forEach(line -> {
            System.out.println("[console] " + line);
            onLine.accept(line);
        }), "console-output");
        copy.setDaemon(true);
        copy.start();
        if (!process.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(command.command() + " did not finish within " + timeout);
        }
        copy.join(5_000);
        return process.exitValue();
    }
}
