package io.storagebus.system;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The compose deployment for real, as an operator runs it: compose/setup.sh, a token, {@code up},
 * then the CLI and REST over https with tokens (a file and a blockfile domain on storage only the
 * workers see, volumes, prepare, snapshot, maintenance voted on by the workers), then faults: the
 * active manager, the SPM's worker and a Kafka broker killed while requests come in (nothing lost,
 * nothing duplicated), {@code down} and {@code up} again (everything still there), and the rolling
 * upgrade compose/README.md describes, run as written. Runs CI's images (DockerImages).
 */
class ComposeIT {
    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    /** Eleven JVMs starting on CI's two cores: generous, as the test is about what they do once up, not how fast they start. */
    private static final Duration HEALTHY = Duration.ofMinutes(8);
    private static final Duration TASK = Duration.ofMinutes(2);
    private static final List<String> SERVICES = List.of("kafka-1", "kafka-2", "kafka-3", "zk1", "zk2", "zk3", "manager-1", "manager-2",
            "worker-1", "worker-2", "worker-3");

    @TempDir
    Path tmp;

    private Path compose;
    private final Map<String, String> env = new HashMap<>();
    private final Map<String, Long> timings = new java.util.LinkedHashMap<>();
    private String token;
    private SSLContext tls;

    @AfterEach
    void down() {
        if (compose != null) {
            // The containers' last lines, kept for whoever reads a failure: down removes the containers.
            DockerImages.Result logs = compose(List.of("logs", "--no-color", "--tail=40"), 120);
            try {
                Files.writeString(REPO.resolve("system-tests/target/compose-logs.txt"), logs.output());
            } catch (java.io.IOException e) {
                System.err.println("ComposeIT: cannot keep the containers' logs: " + e);
            }
            compose(List.of("down", "-v", "--remove-orphans"), 300);
        }
    }

    @Test
    void anOperatorDeploysItUsesItAndItSurvivesKilledContainers() throws Exception {
        DockerImages.requireEngine();
        long started = System.nanoTime();
        env.putAll(DockerImages.ciImages());
        timings.put("images", elapsed(started));
        deployFromAFreshCopy();

        Http m1 = https(env.get("MANAGER_1_PORT"));
        Http m2 = https(env.get("MANAGER_2_PORT"));
        assertEquals(401, new Http(m1.base(), null, tls).get("/api/v1/domains").status(), "no token, no answer");
        // Either manager may have won the election, and both answer healthy as standbys before one has
        // won it: wait for the winner. The CLI follows the standby's 307 to the active one.
        Http winner = awaitActive(List.of(m1, m2));
        boolean firstIsActive = winner == m1;
        Http active = firstIsActive ? m1 : m2;
        Http survivor = firstIsActive ? m2 : m1;
        String activeService = firstIsActive ? "manager-1" : "manager-2";

        long operating = System.nanoTime();
        JsonObject files = cliJson("domains", "create", "--name", "shared", "--driver", "file", "--property",
                "path=/var/lib/storagebus/domains/shared");
        assertEquals(true, files.getString("checkedBy").startsWith("host-"), files.encode());
        JsonObject blocks = cliJson("domains", "create", "--name", "blocks", "--driver", "blockfile", "--property",
                "path=/var/lib/storagebus/domains/blocks");
        // Storage no host sees is refused with the host's reason, and nothing is stored.
        Http.Response nowhere = active.post("/api/v1/domains", new JsonObject().put("name", "nowhere").put("driver", "file")
                .put("properties", new JsonObject().put("path", "/var/lib/storagebus/domains/missing")));
        assertEquals(400, nowhere.status(), nowhere.body());
        assertTrue(nowhere.json().getString("message").contains("checked on host"), nowhere.body());

        JsonObject disk = cliJson("volumes", "create", files.getString("id"), "--name", "disk", "--size", "67108864", "--format", "qcow2");
        assertEquals("SUCCEEDED", finished(active, disk.getString("taskId")).getString("status"));
        JsonObject raw = cliJson("volumes", "create", blocks.getString("id"), "--name", "raw", "--size", "16777216", "--format", "raw",
                "--allocation", "preallocated");
        assertEquals("SUCCEEDED", finished(active, raw.getString("taskId")).getString("status"));
        JsonObject prepared = cliJson("volumes", "prepare", raw.getString("volumeId"), "--host", "host-2");
        assertEquals("SUCCEEDED", finished(active, prepared.getString("taskId")).getString("status"));
        String path = active.get("/api/v1/volumes/" + raw.getString("volumeId")).json().getJsonObject("lease").getString("path");
        String device = compose(List.of("exec", "-T", "worker-2", "readlink", "-f", path), 60).output().trim();
        assertTrue(device.startsWith("/dev/loop"), "a blockfile volume is a loop device on its host: " + path + " -> " + device);
        JsonObject snapshot = cliJson("snapshots", "create", disk.getString("volumeId"), "--name", "first");
        assertEquals("SUCCEEDED", finished(active, snapshot.getString("taskId")).getString("status"));

        // Maintenance of the blockfile domain: the three workers vote (no guest uses it), then
        // the host that has the volume prepared lets it go.
        cliJson("maintenance", "request", blocks.getString("id"), "--reason", "firmware");
        JsonObject maintenance = await().atMost(TASK).until(() -> active.get("/api/v1/domains/" + blocks.getString("id") + "/maintenance").json(),
                m -> "COMPLETED".equals(m.getString("status")));
        Set<String> voted = new HashSet<>();
        maintenance.getJsonArray("voters").forEach(v -> {
            JsonObject voter = (JsonObject) v;
            if (voter.getString("subscriberId").startsWith("host:")) {
                assertEquals("CONSENT", voter.getString("vote"), maintenance.encode());
                voted.add(voter.getString("subscriberId"));
            }
        });
        assertEquals(Set.of("host:host-1", "host:host-2", "host:host-3"), voted, maintenance.encode());
        // The domain's record is on another topic than the request's; the manager answers COMPLETED only once its view shows both.
        assertEquals("MAINTENANCE", active.get("/api/v1/domains/" + blocks.getString("id")).json().getString("status"));
        cliJson("maintenance", "activate", blocks.getString("id"));
        timings.put("operator flows", elapsed(operating));

        // Every StorageBus topic: three replicas, a write counts once two have it.
        DockerImages.Result topics = compose(List.of("exec", "-T", "kafka-1", "/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server",
                "127.0.0.1:9095", "--describe", "--topic", "storagebus\\..*"), 120);
        List<String> described = topics.output().lines().filter(l -> l.startsWith("Topic: storagebus.") && l.contains("ReplicationFactor")).toList();
        assertTrue(described.size() >= 10, topics.output());
        described.forEach(l -> assertTrue(l.contains("ReplicationFactor: 3"), l));
        DockerImages.Result minIsr = compose(List.of("exec", "-T", "kafka-1", "/opt/kafka/bin/kafka-configs.sh", "--bootstrap-server",
                "127.0.0.1:9095", "--describe", "--all", "--entity-type", "topics", "--entity-name", "storagebus.state.volumes"), 120);
        assertTrue(minIsr.output().contains("min.insync.replicas=2"), minIsr.output());

        long faults = System.nanoTime();
        String domain = files.getString("id");
        // The active manager killed: the standby takes writes.
        assertEquals("ACTIVE", active.get("/api/v1/health").json().getString("role"));
        kill(activeService);
        await().atMost(Duration.ofMinutes(1)).until(() -> "ACTIVE".equals(reachable(survivor, "/api/v1/health").getString("role")));
        JsonObject afterFailover = create(survivor, domain, "after-manager-failover");
        assertEquals("SUCCEEDED", finished(survivor, afterFailover.getString("taskId")).getString("status"));
        assertEquals(0, compose(List.of("start", activeService), 120).exit());
        awaitHealthy(List.of(activeService));
        timings.put("manager failover", elapsed(faults));

        // The SPM's worker killed while commands come in: another host becomes SPM and carries
        // out every command, the ones sent while there was none included.
        long spmFault = System.nanoTime();
        String spm = survivor.get("/api/v1/pools/default/spm").json().getString("host");
        List<String> tasks = new ArrayList<>();
        tasks.add(create(survivor, domain, "before-spm-kill").getString("taskId"));
        kill("worker-" + spm.substring("host-".length()));
        for (int i = 0; i < 3; i++) {
            tasks.add(create(survivor, domain, "during-spm-change-" + i).getString("taskId"));
        }
        for (String task : tasks) {
            assertEquals("SUCCEEDED", finished(survivor, task).getString("status"), "task " + task);
        }
        assertNotEquals(spm, survivor.get("/api/v1/pools/default/spm").json().getString("host"));
        assertEquals(0, compose(List.of("start", "worker-" + spm.substring("host-".length())), 120).exit());
        timings.put("SPM failover", elapsed(spmFault));

        // A broker killed while creates stream in: every accepted create is there once. A create whose
        // outcome is unknown (no answer, or OUTCOME_UNKNOWN) is sent again with its Idempotency-Key
        // until it gets a definite one, as the CLI does; a refused one must have made nothing.
        long brokerFault = System.nanoTime();
        Map<String, String> accepted = new ConcurrentHashMap<>();
        AtomicInteger refused = new AtomicInteger();
        AtomicInteger resent = new AtomicInteger();
        AtomicBoolean streaming = new AtomicBoolean(true);
        Thread writer = new Thread(() -> {
            for (int i = 0; streaming.get(); i++) {
                JsonObject body = new JsonObject().put("name", "stream-" + i).put("virtualSize", 1 << 20).put("format", "raw");
                for (int attempt = 1; ; attempt++) {
                    String code;
                    try {
                        Http.Response r = survivor.post("/api/v1/domains/" + domain + "/volumes", body, "stream-" + i);
                        if (r.status() == 202) {
                            accepted.put(r.json().getString("volumeId"), "stream-" + i);
                            break;
                        }
                        code = r.status() == 503 ? r.json().getString("code") : "HTTP " + r.status();
                    } catch (AssertionError e) {
                        code = "OUTCOME_UNKNOWN";
                    }
                    if (!"OUTCOME_UNKNOWN".equals(code)) {
                        refused.incrementAndGet();
                        break;
                    }
                    assertTrue(attempt < 30, "stream-" + i + " has no definite answer after 30 attempts");
                    resent.incrementAndGet();
                }
            }
        });
        writer.start();
        await().atMost(TASK).until(() -> accepted.size() >= 5);
        kill("kafka-2");
        int atKill = accepted.size();
        await().atMost(TASK).until(() -> accepted.size() >= atKill + 10);
        streaming.set(false);
        writer.join();
        for (String volume : accepted.keySet()) {
            JsonObject v = await().atMost(TASK).until(() -> survivor.get("/api/v1/volumes/" + volume).json(),
                    j -> "READY".equals(j.getString("status")) || "FAILED".equals(j.getString("status")));
            assertEquals("READY", v.getString("status"), v.encode());
        }
        JsonArray listed = survivor.get("/api/v1/domains/" + domain + "/volumes").array();
        List<String> streamed = listed.stream().map(o -> ((JsonObject) o).getString("name")).filter(n -> n.startsWith("stream-")).toList();
        assertEquals(accepted.size(), streamed.size(), "each accepted create is one volume: " + streamed);
        assertEquals(new HashSet<>(accepted.values()), new HashSet<>(streamed));
        // On the storage too: one volume's metadata a volume the state knows, none twice, none more.
        String onStorage = compose(List.of("exec", "-T", "worker-1", "ls", "/var/lib/storagebus/domains/shared/volumes"), 60).output();
        List<String> metas = onStorage.lines().filter(f -> f.matches("[0-9a-f-]{36}\\.meta\\.json")).map(f -> f.substring(0, 36)).sorted().toList();
        assertEquals(listed.stream().map(o -> ((JsonObject) o).getString("id")).sorted().toList(), metas, onStorage);
        System.out.printf("ComposeIT: %d creates accepted while kafka-2 was killed after %d, %d refused (503 while a leader moved), "
                + "%d sent again with their key after an unknown outcome, none lost, none duplicated (%d volumes in the state, "
                + "the same %d on the storage)%n", accepted.size(), atKill, refused.get(), resent.get(), listed.size(), metas.size());
        assertEquals(0, compose(List.of("start", "kafka-2"), 120).exit());
        awaitHealthy(SERVICES);
        timings.put("broker killed", elapsed(brokerFault));

        // Down and up again: the state lives in Kafka's and ZooKeeper's volumes.
        long restart = System.nanoTime();
        JsonArray domainsBefore = sorted(survivor.get("/api/v1/domains").array());
        JsonArray volumesBefore = sorted(survivor.get("/api/v1/domains/" + domain + "/volumes").array());
        assertEquals(0, compose(List.of("down"), 300).exit());
        assertEquals(0, compose(List.of("up", "-d"), 300).exit());
        awaitHealthy(SERVICES);
        Http again = https(env.get("MANAGER_1_PORT"));
        await().atMost(HEALTHY).until(() -> reachable(again, "/api/v1/health").containsKey("role"));
        assertEquals(ids(domainsBefore), ids(sorted(again.get("/api/v1/domains").array())));
        assertEquals(ids(volumesBefore), ids(sorted(again.get("/api/v1/domains/" + domain + "/volumes").array())));
        timings.put("down and up", elapsed(restart));

        // The rolling upgrade, as compose/README.md has it.
        long upgrade = System.nanoTime();
        DockerImages.Result rolled = shell(readmeBlock("## Roll an upgrade"), 900);
        assertEquals(0, rolled.exit(), rolled.output());
        awaitHealthy(SERVICES);
        Http upgraded = awaitActive(List.of(https(env.get("MANAGER_1_PORT")), https(env.get("MANAGER_2_PORT"))));
        JsonObject afterUpgrade = create(upgraded, domain, "after-upgrade");
        assertEquals("SUCCEEDED", finished(upgraded, afterUpgrade.getString("taskId")).getString("status"));
        assertEquals(ids(volumesBefore).size() + 1, upgraded.get("/api/v1/domains/" + domain + "/volumes").array().size());
        timings.put("rolling upgrade", elapsed(upgrade));
        timings.put("total", elapsed(started));
        System.out.println("ComposeIT timings (s): " + timings);
    }

    /** A copy of compose/ as git has it (none of this clone's secrets), set up and brought up as its README says. */
    private void deployFromAFreshCopy() throws Exception {
        long setup = System.nanoTime();
        Path root = Files.createDirectories(tmp.resolve("repo"));
        compose = root.resolve("compose");
        DockerImages.Result tracked = DockerImages.run(List.of("git", "-C", REPO.toString(), "ls-files", "compose"), 60);
        assertEquals(0, tracked.exit(), tracked.output());
        for (String file : tracked.output().lines().toList()) {
            Path target = root.resolve(file);
            Files.createDirectories(target.getParent());
            Files.copy(REPO.resolve(file), target, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        }
        // What the image build takes from a clone that was built: the launcher and the distribution.
        for (Path file : List.of(Path.of(".dockerignore"), Path.of("bin/storagebus"))) {
            Files.createDirectories(root.resolve(file).getParent());
            Files.copy(REPO.resolve(file), root.resolve(file), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        }
        Path built = REPO.resolve("dist/target");
        try (var files = Files.walk(built, 2)) {
            for (Path file : files.filter(Files::isRegularFile).filter(f -> f.getParent().getFileName().toString().equals("lib")
                    || f.getFileName().toString().matches("storagebus-dist-.*\\.jar")).toList()) {
                Path target = root.resolve("dist/target").resolve(built.relativize(file));
                Files.createDirectories(target.getParent());
                Files.copy(file, target);
            }
        }
        env.put("COMPOSE_PROJECT_NAME", "sbit" + Long.toHexString(System.nanoTime() & 0xffffff));
        env.put("MANAGER_1_PORT", String.valueOf(io.storagebus.testkit.EmbeddedKafka.freePort()));
        env.put("MANAGER_2_PORT", String.valueOf(io.storagebus.testkit.EmbeddedKafka.freePort()));

        DockerImages.Result set = shell("./setup.sh", 900);
        assertEquals(0, set.exit(), set.output());
        JsonObject created = new JsonObject(shell("../bin/storagebus tokens create --name ci --role admin --output json", 60).output());
        token = created.getString("token");
        Files.writeString(compose.resolve("config/api-tokens"), created.getString("line") + "\n", java.nio.file.StandardOpenOption.APPEND);
        tls = trusting(compose.resolve("config/tls/manager.pem"));
        timings.put("setup.sh", elapsed(setup));
        long up = System.nanoTime();
        DockerImages.Result started = compose(List.of("up", "-d"), 600);
        assertEquals(0, started.exit(), started.output());
        awaitHealthy(SERVICES);
        timings.put("up until healthy", elapsed(up));
        for (String dir : List.of("shared", "blocks")) {
            assertEquals(0, compose(List.of("exec", "-T", "worker-1", "mkdir", "-p", "/var/lib/storagebus/domains/" + dir), 60).exit());
        }
    }

    /** The manager that has won the election, once one has. */
    private Http awaitActive(List<Http> managers) {
        return await().atMost(HEALTHY).until(() -> managers.stream()
                .filter(m -> "ACTIVE".equals(reachable(m, "/api/v1/health").getString("role"))).findFirst().orElse(null), m -> m != null);
    }

    /** Every service healthy; if not in time, the failure names the services that were not and what they were. */
    private void awaitHealthy(List<String> services) {
        Map<String, String> notHealthy = new ConcurrentHashMap<>();
        try {
            await().atMost(HEALTHY).pollInterval(Duration.ofSeconds(2)).until(() -> {
                notHealthy.clear();
                for (String s : services) {
                    String id = compose(List.of("ps", "-q", s), 60).output().trim();
                    String health = id.isEmpty() ? "no container"
                            : DockerImages.run(List.of("docker", "inspect", "-f", "{{.State.Health.Status}}", id), 30).output().trim();
                    if (!"healthy".equals(health)) {
                        notHealthy.put(s, health);
                    }
                }
                return notHealthy.isEmpty();
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("not healthy within " + HEALTHY + ": " + notHealthy + " (their logs: system-tests/target/compose-logs.txt)", e);
        }
    }

    private void kill(String service) {
        String id = compose(List.of("ps", "-q", service), 60).output().trim();
        DockerImages.Result killed = DockerImages.run(List.of("docker", "kill", id), 60);
        assertEquals(0, killed.exit(), killed.output());
    }

    /** The operator's CLI from the host, as compose/README.md sets it up, answering in JSON. */
    private JsonObject cliJson(String... args) {
        List<String> command = new ArrayList<>(List.of("../bin/storagebus"));
        command.addAll(List.of(args));
        command.addAll(List.of("--url", "https://localhost:" + env.get("MANAGER_1_PORT"), "--output", "json"));
        DockerImages.Result r = shell(String.join(" ", command.stream().map(ComposeIT::quoted).toList()), 120);
        assertEquals(0, r.exit(), String.join(" ", args) + ": " + r.output());
        return new JsonObject(r.output().substring(r.output().indexOf('{')));
    }

    private static JsonObject create(Http http, String domain, String name) {
        Http.Response r = http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", name).put("virtualSize", 1 << 20)
                .put("format", "raw"));
        assertEquals(202, r.status(), r.body());
        return r.json();
    }

    private static JsonObject finished(Http http, String taskId) {
        return await().atMost(TASK).until(() -> reachable(http, "/api/v1/tasks/" + taskId),
                t -> "SUCCEEDED".equals(t.getString("status")) || "FAILED".equals(t.getString("status")));
    }

    /** The answer's JSON, or an empty object while the manager cannot be reached (restarting). */
    private static JsonObject reachable(Http http, String path) {
        try {
            Http.Response r = http.get(path);
            return r.status() == 200 ? r.json() : new JsonObject();
        } catch (AssertionError e) {
            return new JsonObject();
        }
    }

    private Http https(String port) {
        return new Http("https://localhost:" + port, token, tls);
    }

    /** Runs compose with CI's images: the compose plugin where there is one, docker-compose otherwise. */
    private DockerImages.Result compose(List<String> args, long timeoutSeconds) {
        return shell("compose " + String.join(" ", args.stream().map(ComposeIT::quoted).toList()), timeoutSeconds);
    }

    /**
     * A bash script run in the compose directory with CI's variables, the token and the CA file
     * set, and {@code docker compose} working where only docker-compose is installed.
     */
    private DockerImages.Result shell(String script, long timeoutSeconds) {
        StringBuilder preamble = new StringBuilder("set -euo pipefail\ncd " + quoted(compose.toString()) + "\n");
        env.forEach((k, v) -> preamble.append("export ").append(k).append('=').append(quoted(v)).append('\n'));
        if (token != null) {
            preamble.append("export STORAGEBUS_TOKEN=").append(quoted(token)).append('\n')
                    .append("export STORAGEBUS_CA_FILE=\"$PWD/config/tls/manager.pem\"\n");
        }
        preamble.append("if command docker compose version > /dev/null 2>&1; then compose() { command docker compose \"$@\"; }\n")
                .append("else compose() { docker-compose \"$@\"; }; docker() { if [ \"$1\" = compose ]; then shift; docker-compose \"$@\"; ")
                .append("else command docker \"$@\"; fi; }; fi\n");
        return DockerImages.run(List.of("bash", "-c", preamble + script), timeoutSeconds);
    }

    /** The first sh block under a heading of compose/README.md. */
    private String readmeBlock(String heading) throws Exception {
        String readme = Files.readString(compose.resolve("README.md"));
        String section = readme.substring(readme.indexOf(heading));
        int start = section.indexOf("```sh\n") + "```sh\n".length();
        return section.substring(start, section.indexOf("```", start));
    }

    private static SSLContext trusting(Path pem) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("manager", CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem))));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    private static JsonArray sorted(JsonArray array) {
        return new JsonArray(array.stream().map(o -> (JsonObject) o).sorted(java.util.Comparator.comparing(o -> o.getString("id"))).toList());
    }

    private static List<String> ids(JsonArray array) {
        return array.stream().map(o -> ((JsonObject) o).getString("id")).toList();
    }

    private static String quoted(String s) {
        return "'" + s.replace("'", "'\"'\"'") + "'";
    }

    private static long elapsed(long since) {
        return (System.nanoTime() - since) / 1_000_000_000L;
    }
}
