package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Consumer;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.Role;
import io.storagebus.schema.CapacityLevel;
import io.storagebus.schema.DomainCapacity;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.GuestPaused;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.VolumeExtended;
import io.storagebus.subscriber.StorageSubscriber;
import io.storagebus.subscriber.Vote;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
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
 * which installs it.
 *
 * <p>Some things happen when the script says so, by printing a line {@code CUE: <what> <name>}
 * once it has seen the page before them: a subscriber, {@code change-board}, holds its maintenance
 * vote until {@code CUE: vote change-board}, so the script watches a vote arrive; and the events of
 * a guest pausing on a full volume and of the extend that resumes it are sent as host-1's worker
 * would send them ({@code CUE: pause disk1}, {@code CUE: extend disk1}): what is under test is the
 * console following them, not the pause itself, which GuestPauseIT makes with a real guest.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsoleIT {
    private static final Path SCRIPTS = Path.of("src/test/console").toAbsolutePath();
    private static final String VOTER = "change-board";
    private static final String CUE = "CUE: ";
    private final CompletableFuture<MaintenanceRequested> asked = new CompletableFuture<>();
    private StorageSubscriber board;
    private KafkaProducer<String, byte[]> worker;
    private Http http;
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
        http = new Http(cluster.manager.baseUrl(), admin);
        await().atMost(Duration.ofSeconds(90)).until(() -> http.get("/api/v1/health").status() == 200);
        files = Files.createDirectories(dir.resolve("files"));
        board = StorageSubscriber.builder(cluster.kafka.bootstrapServers(), VOTER).description("the change board: votes when it has met")
                .silence(SilencePolicy.VETO).heartbeatInterval(Duration.ofSeconds(1)).voter(request -> {
                    asked.complete(request);
                    return null; // answered later, on the script's cue
                }).build();
        board.start();
        worker = new KafkaProducer<>(KafkaClients.producer(cluster.kafka.bootstrapServers()));
        await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/api/v1/subscribers").array().stream().map(JsonObject.class::cast)
                .anyMatch(s -> VOTER.equals(s.getString("id")) && s.getBoolean("alive")));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(worker, board, cluster);
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
        assertEquals(0, run(browser, Duration.ofMinutes(5), this::cue), "the console script's steps (its output above); screenshots in " + screenshots);
        assertTrue(Files.size(screenshots.resolve("console.png")) > 10_000, "a screenshot of the console");
    }

    /** Does what the script's line asks for, if it is a cue. */
    private void cue(String line) {
        if (!line.startsWith(CUE)) {
            return;
        }
        String[] what = line.substring(CUE.length()).split(" ");
        try {
            switch (what[0]) {
                case "vote" -> asked.thenAccept(request -> board.vote(request, Vote.consent()));
                case "pause" -> hostEvent(what[1], (volume, envelope) -> GuestPaused.newBuilder().setEnvelope(envelope)
                        .setVolumeId(volume.getString("id")).setDomainId(volume.getString("domainId")).setHostId("host-1")
                        .setNospace(true).setReason("No space left on device").build());
                case "extend" -> {
                    // The SPM's view of the domain first, as it writes it after an extend; the console reads it on the event.
                    JsonObject disk = volume(what[1]);
                    String domainId = disk.getString("domainId");
                    worker.send(Records.of(Topics.CAPACITY_STATE, domainId, DomainCapacity.newBuilder()
                            .setEnvelope(Envelopes.origin("default", "host:host-1", disk.getString("id"))).setDomainId(domainId)
                            .setFreeBytes(1L << 30).setTotalBytes(4L << 30).setDemandBytesPerSecond(20L << 20).setSecondsToFull(52)
                            .setLevel(CapacityLevel.CRITICAL).build())).get();
                    await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/api/v1/domains/" + domainId).json().containsKey("capacity"));
                    hostEvent(what[1], (volume, envelope) -> VolumeExtended.newBuilder().setEnvelope(envelope)
                            .setVolumeId(volume.getString("id")).setDomainId(volume.getString("domainId")).setHostId("host-1")
                            .setPreviousAllocation(64L << 20).setAllocation(1L << 30).setRequestedAllocation(1L << 30)
                            .setRoundTripMillis(41).setResumed(true).build());
                    hostEvent(what[1], (volume, envelope) -> GuestResumed.newBuilder().setEnvelope(envelope)
                            .setVolumeId(volume.getString("id")).setDomainId(volume.getString("domainId")).setHostId("host-1")
                            .setPausedMillis(180).build());
                }
                default -> throw new IllegalArgumentException("no such cue: " + line);
            }
        } catch (Exception e) {
            throw new IllegalStateException("cue " + line + " failed", e);
        }
    }

    /** Sends an event about the named volume as host-1's worker does. */
    private void hostEvent(String volumeName, BiFunction<JsonObject, Envelope, SpecificRecord> event) throws Exception {
        JsonObject volume = volume(volumeName);
        worker.send(Records.of(Topics.EVENTS, volume.getString("id"), event.apply(volume,
                Envelopes.origin("default", "host:host-1", volume.getString("id"))))).get();
    }

    private JsonObject volume(String name) {
        return http.get("/api/v1/domains").array().stream().map(JsonObject.class::cast)
                .flatMap(d -> http.get("/api/v1/domains/" + d.getString("id") + "/volumes").array().stream().map(JsonObject.class::cast))
                .filter(v -> name.equals(v.getString("name"))).findFirst().orElseThrow();
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
