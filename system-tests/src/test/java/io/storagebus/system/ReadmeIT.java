package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README is a contract: the packaged {@code bin/storagebus dev} is started the way the README
 * says, in a directory of its own, and every {@code sh} block of README.md is run in order in one
 * shell, as a user pastes them. A block's lines up to a {@code # => } line are one step; the
 * {@code # => } lines after it are what the step prints, each a whole line of its output, in
 * order ({@code …} stands for anything, runs of spaces count as one), and {@code # => (exit N)}
 * its exit status (0 otherwise). Blocks fenced {@code sh manual} (the build, long-running
 * services) are not run; {@code sh root} blocks need root, loop devices and QEMU. Then the stack
 * is stopped with SIGTERM, must exit cleanly, and a second start must find what the first had.
 */
class ReadmeIT {
    private static final Duration START = Duration.ofMinutes(2);
    private static final Pattern FENCE = Pattern.compile("^```(\\S*)\\s*(.*)$");
    private static final String OUTPUT = "# => ";
    private static final Pattern EXIT = Pattern.compile("\\(exit (\\d+)\\)");

    private final Path repo = Path.of(System.getProperty("storagebus.dist")).toAbsolutePath().getParent().getParent();
    private Process dev;

    /** One step: the lines a user pastes, and what the README shows they print. */
    record Step(int number, int readmeLine, List<String> commands, List<String> expected) {
        int expectedExit() {
            return expected.stream().map(EXIT::matcher).filter(Matcher::matches).findFirst().map(m -> Integer.parseInt(m.group(1))).orElse(0);
        }

        List<String> expectedLines() {
            return expected.stream().filter(e -> !EXIT.matcher(e).matches()).toList();
        }
    }

    @AfterEach
    void stop() throws Exception {
        if (dev != null && dev.isAlive()) {
            dev.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void theReadmeRunsAsWrittenAndTheDevStackRestartsWithItsData(@TempDir Path home) throws Exception {
        // A checkout as the user has it: bin/ and the built dist/, and nothing of a developer's own storagebus-data.
        Files.createSymbolicLink(home.resolve("bin"), repo.resolve("bin"));
        Files.createSymbolicLink(home.resolve("dist"), repo.resolve("dist"));
        int port = freePort();
        Path firstLog = home.resolve("dev-1.log");
        dev = startDev(home, port, firstLog);

        List<Step> steps = steps(Files.readAllLines(repo.resolve("README.md")), canRunRootBlocks());
        assertTrue(steps.size() > 20, "the README's walkthrough was found: " + steps.size() + " steps");
        String transcript = run(home, steps);
        List<String> failures = check(steps, transcript);
        if (!failures.isEmpty()) {
            fail("README.md does not do what it shows:\n" + String.join("\n", failures) + "\n--- transcript ---\n" + transcript
                    + "\n--- dev log (last lines) ---\n" + tail(firstLog));
        }

        Http http = client(home);
        Set<String> before = inventory(http);
        assertTrue(before.stream().anyMatch(v -> v.startsWith("d2/v1/READY")), before.toString());

        dev.destroy(); // SIGTERM
        assertTrue(dev.waitFor(60, TimeUnit.SECONDS), "the dev stack stops within a minute of SIGTERM");
        assertEquals(143, dev.exitValue(), "the JVM ends on SIGTERM after its shutdown hook ran: " + tail(firstLog));
        String log = Files.readString(firstLog);
        assertFalse(log.contains("Exception in thread"), "nothing failed while it stopped: " + tail(firstLog));

        dev = startDev(home, port, home.resolve("dev-2.log"));
        assertEquals(before, inventory(client(home)), "the second start finds the same domains and volumes");
    }

    @Test
    void theLauncherFindsItsBuildThroughALinkOnThePath(@TempDir Path path) throws Exception {
        // As an operator installs it: a link in a directory on PATH, far from the checkout.
        Path link = Files.createSymbolicLink(path.resolve("storagebus"), repo.resolve("bin").resolve("storagebus"));
        Process help = new ProcessBuilder(link.toString(), "--help").directory(path.toFile()).redirectErrorStream(true).start();
        String out = new String(help.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(help.waitFor(60, TimeUnit.SECONDS), "the launcher answers --help");
        assertEquals(0, help.exitValue(), out);
        assertTrue(out.startsWith("usage: storagebus"), out);
    }

    /** {@code bin/storagebus dev} as the README starts it, with a port of its own; returns once it said it is ready. */
    private Process startDev(Path home, int port, Path log) throws IOException {
        ProcessBuilder builder = new ProcessBuilder("bin/storagebus", "dev", "--http-port", Integer.toString(port))
                .directory(home.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith("STORAGEBUS_"));
        Process process = builder.start();
        await().atMost(START).pollInterval(Duration.ofMillis(200)).until(() -> {
            if (!process.isAlive()) {
                fail("bin/storagebus dev exited with " + process.exitValue() + ":\n" + tail(log));
            }
            return Files.readString(log).contains("StorageBus ready: http://127.0.0.1:" + port);
        });
        return process;
    }

    /** Runs every step in one bash, as an interactive shell would (aliases expand), marking where each begins and ends. */
    private String run(Path home, List<Step> steps) throws Exception {
        StringBuilder script = new StringBuilder("shopt -s expand_aliases\n");
        for (Step step : steps) {
            script.append("echo '@@step ").append(step.number()).append("'\n");
            step.commands().forEach(c -> script.append(c).append('\n'));
            script.append("__status=$?; echo; echo \"@@status ").append(step.number()).append(" $__status\"\n");
        }
        Path file = home.resolve("readme.sh");
        Files.writeString(file, script);
        ProcessBuilder builder = new ProcessBuilder("bash", file.toString()).directory(home.toFile()).redirectErrorStream(true)
                .redirectOutput(home.resolve("readme.out").toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith("STORAGEBUS_"));
        Process shell = builder.start();
        if (!shell.waitFor(5, TimeUnit.MINUTES)) {
            shell.destroyForcibly();
            fail("the README's commands did not finish within 5 minutes:\n" + Files.readString(home.resolve("readme.out")));
        }
        return Files.readString(home.resolve("readme.out"));
    }

    /** Every step whose output or exit status is not what the README shows, with its README line. */
    static List<String> check(List<Step> steps, String transcript) {
        Map<Integer, List<String>> outputs = new HashMap<>();
        Map<Integer, Integer> statuses = new HashMap<>();
        Integer current = null;
        for (String line : transcript.split("\n", -1)) {
            if (line.startsWith("@@step ")) {
                current = Integer.parseInt(line.substring(7).strip());
                outputs.put(current, new ArrayList<>());
            } else if (line.startsWith("@@status ")) {
                String[] parts = line.split(" ");
                statuses.put(Integer.parseInt(parts[1]), Integer.parseInt(parts[2]));
                current = null;
            } else if (current != null) {
                outputs.get(current).add(line);
            }
        }
        List<String> failures = new ArrayList<>();
        for (Step step : steps) {
            String where = "README.md:" + step.readmeLine() + " (" + step.commands().get(step.commands().size() - 1).strip() + ")";
            if (!statuses.containsKey(step.number())) {
                failures.add(where + ": never finished");
                continue;
            }
            if (statuses.get(step.number()) != step.expectedExit()) {
                failures.add(where + ": exit status " + statuses.get(step.number()) + ", the README shows " + step.expectedExit());
            }
            List<String> output = outputs.get(step.number());
            int from = 0;
            for (String expected : step.expectedLines()) {
                Pattern pattern = shown(expected);
                int found = -1;
                for (int i = from; i < output.size() && found < 0; i++) {
                    if (pattern.matcher(spaces(output.get(i))).matches()) {
                        found = i;
                    }
                }
                if (found < 0) {
                    failures.add(where + ": no line (after the ones matched before it) is '" + expected + "'");
                    break;
                }
                from = found + 1;
            }
        }
        return failures;
    }

    /** A line as the README shows it: {@code …} is anything, runs of white space count as one space. */
    static Pattern shown(String expected) {
        return Pattern.compile(java.util.Arrays.stream(spaces(expected).split("…", -1)).map(Pattern::quote)
                .collect(java.util.stream.Collectors.joining(".*")));
    }

    private static String spaces(String s) {
        return s.strip().replaceAll("\\s+", " ");
    }

    /** The README's {@code sh} blocks (and {@code sh root} ones when they can run here) cut into steps. */
    static List<Step> steps(List<String> readme, boolean root) {
        List<Step> steps = new ArrayList<>();
        boolean inBlock = false;
        boolean run = false;
        List<String> commands = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        int startLine = 0;
        for (int i = 0; i < readme.size(); i++) {
            String line = readme.get(i);
            Matcher fence = FENCE.matcher(line);
            if (!inBlock && fence.matches() && !fence.group(1).isEmpty()) {
                inBlock = true;
                String kind = fence.group(2).strip();
                run = fence.group(1).equals("sh") && (kind.isEmpty() || kind.equals("root") && root);
                continue;
            }
            if (inBlock && line.equals("```")) {
                if (run && !commands.isEmpty()) {
                    steps.add(new Step(steps.size() + 1, startLine, List.copyOf(commands), List.copyOf(expected)));
                }
                commands.clear();
                expected.clear();
                inBlock = false;
                continue;
            }
            if (!inBlock || !run) {
                continue;
            }
            if (line.startsWith(OUTPUT)) {
                expected.add(line.substring(OUTPUT.length()));
                continue;
            }
            if (!expected.isEmpty()) {
                steps.add(new Step(steps.size() + 1, startLine, List.copyOf(commands), List.copyOf(expected)));
                commands.clear();
                expected.clear();
            }
            if (commands.isEmpty()) {
                startLine = i + 1;
            }
            commands.add(line);
        }
        return steps;
    }

    /** The block volume walkthrough needs root for loop devices, and QEMU. */
    private static boolean canRunRootBlocks() throws Exception {
        boolean root = "0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip());
        boolean qemu = new ProcessBuilder("sh", "-c", "command -v qemu-system-x86_64").start().waitFor() == 0;
        if (!root || !qemu || !Files.exists(Path.of("/dev/loop-control"))) {
            System.err.println("ReadmeIT: the README's 'sh root' blocks are skipped: they need root, /dev/loop-control and qemu-system-x86_64");
            return false;
        }
        return true;
    }

    /** A client with the token and URL of the dev stack's current start, from the file the README sources. */
    private static Http client(Path home) throws IOException {
        Map<String, String> env = new HashMap<>();
        for (String line : Files.readAllLines(home.resolve("storagebus-data/dev.env"))) {
            if (line.startsWith("export ")) {
                String[] kv = line.substring(7).split("=", 2);
                env.put(kv[0], kv[1]);
            }
        }
        return new Http(env.get("STORAGEBUS_URL"), env.get("STORAGEBUS_TOKEN"));
    }

    /** Every volume as {@code domain/volume/status/id}, once the manager's view has caught up. */
    private static Set<String> inventory(Http http) {
        await().atMost(START).ignoreExceptions().until(() -> http.get("/api/v1/health").status() == 200);
        Set<String> all = new TreeSet<>();
        for (Object d : http.get("/api/v1/domains").array()) {
            JsonObject domain = (JsonObject) d;
            all.add(domain.getString("name") + "/" + domain.getString("id") + "/" + domain.getString("status"));
            for (Object v : http.get("/api/v1/domains/" + domain.getString("id") + "/volumes").array()) {
                JsonObject volume = (JsonObject) v;
                all.add(domain.getString("name") + "/" + volume.getString("name") + "/" + volume.getString("status") + "/" + volume.getString("id"));
            }
        }
        return all;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}
