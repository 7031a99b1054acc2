package io.storagebus.testkit.vm;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * JUnit test classes run inside a {@link TestVm}: the host side boots the VM with a JVM that runs
 * {@link #main} on the host's own classpath; that runs the classes with the JUnit Platform and
 * writes one line per test to a results file, which the host reads back as {@link Result}s (one
 * dynamic test each, so every in-VM test shows in the host's report under its own name).
 */
public final class InVmTests {
    private static final String RESULTS = "results.tsv";

    private InVmTests() {
    }

    public enum Status { PASSED, FAILED, SKIPPED }

    /** One test as it ended in the VM; {@code detail} is a skip's reason or a failure's stack trace. */
    public record Result(String name, Status status, String detail) {
    }

    /** Runs the classes in a fresh VM with the given system properties and returns each test's result. */
    public static List<Result> run(TestVm vm, Path runDir, Map<String, String> properties, Duration timeout, Class<?>... classes)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "-XX:-UsePerfData", "-XX:TieredStopAtLevel=1", "-Xmx768m"));
        properties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), InVmTests.class.getName(), RESULTS));
        for (Class<?> c : classes) {
            cmd.add(c.getName());
        }
        StringBuilder script = new StringBuilder("exec");
        for (String arg : cmd) {
            script.append(" '").append(arg.replace("'", "'\\''")).append('\'');
        }
        Path results = runDir.resolve(RESULTS);
        Files.deleteIfExists(results);
        TestVm.Outcome outcome = vm.run(runDir, script.append('\n').toString(), timeout);
        if (!Files.exists(results) && jvmCrashed(runDir)) {
            // The JVM in the VM died in JIT-compiled code before a test ran: TCG's, not ours (about
            // one start in twenty under QEMU 7.2, -cpu max or not). One more boot; the crash log stays.
            System.out.println("InVmTests: the JVM in the test VM crashed before any result (see " + runDir
                    + "/crashed-*.log); running the tests once more in a fresh VM");
            outcome = vm.run(runDir, script.toString(), timeout);
        }
        if (!Files.exists(results)) {
            throw new IOException("the tests did not run in the VM (exit " + outcome.exitStatus() + "); console:\n" + outcome.console());
        }
        List<Result> parsed = new ArrayList<>();
        for (String line : Files.readAllLines(results, StandardCharsets.UTF_8)) {
            String[] f = line.split("\t", 3);
            parsed.add(new Result(unescape(f[1]), Status.valueOf(f[0]), unescape(f[2])));
        }
        return parsed;
    }

    /** Whether a JVM in the VM left a crash log ({@code hs_err_pid*.log}); the logs are renamed {@code crashed-*.log}, so they stay. */
    private static boolean jvmCrashed(Path runDir) throws IOException {
        boolean crashed = false;
        try (var files = Files.list(runDir)) {
            for (Path log : files.filter(f -> f.getFileName().toString().startsWith("hs_err_pid")).toList()) {
                Files.move(log, log.resolveSibling("crashed-" + log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                crashed = true;
            }
        }
        return crashed;
    }

    /** In the VM: {@code InVmTests RESULTS CLASS|CLASS#METHOD...}; exits 0 when every test passed or was skipped. */
    public static void main(String[] args) throws IOException {
        List<String> lines = new ArrayList<>();
        int[] failed = {0};
        LauncherDiscoveryRequestBuilder request = LauncherDiscoveryRequestBuilder.request();
        for (int i = 1; i < args.length; i++) {
            request.selectors(args[i].contains("#") ? DiscoverySelectors.selectMethod(args[i]) : DiscoverySelectors.selectClass(args[i]));
        }
        LauncherDiscoveryRequest discovery = request.build();
        Map<TestIdentifier, Long> started = new ConcurrentHashMap<>();
        TestExecutionListener listener = new TestExecutionListener() {
            @Override
            public void executionStarted(TestIdentifier test) {
                started.put(test, System.nanoTime());
            }

            @Override
            public void executionSkipped(TestIdentifier test, String reason) {
                if (test.isTest()) {
                    lines.add(line(Status.SKIPPED, test, reason));
                }
            }

            @Override
            public void executionFinished(TestIdentifier test, TestExecutionResult result) {
                if (!test.isTest() && result.getStatus() == TestExecutionResult.Status.SUCCESSFUL) {
                    return;
                }
                switch (result.getStatus()) {
                    case SUCCESSFUL -> lines.add(line(Status.PASSED, test, ""));
                    case ABORTED -> lines.add(line(Status.SKIPPED, test, result.getThrowable().map(Throwable::getMessage).orElse("")));
                    case FAILED -> {
                        failed[0]++;
                        StringWriter trace = new StringWriter();
                        result.getThrowable().ifPresent(t -> t.printStackTrace(new PrintWriter(trace)));
                        lines.add(line(Status.FAILED, test, trace.toString()));
                    }
                }
                System.out.printf("in VM: %s %s (%.1f s)%n", result.getStatus(), test.getLegacyReportingName(),
                        (System.nanoTime() - started.getOrDefault(test, System.nanoTime())) / 1e9);
            }
        };
        LauncherFactory.create().execute(discovery, listener);
        Files.write(Path.of(args[0]), lines, StandardCharsets.UTF_8);
        System.exit(failed[0] == 0 ? 0 : 1);
    }

    private static String line(Status status, TestIdentifier test, String detail) {
        String name = test.getUniqueIdObject().getSegments().stream().skip(1).map(s -> s.getValue().replaceFirst(".*\\.", ""))
                .reduce((a, b) -> a + " " + b).orElse(test.getDisplayName());
        return status + "\t" + escape(name) + "\t" + escape(detail == null ? "" : detail);
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "");
    }

    private static String unescape(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                out.append(n == 'n' ? '\n' : n == 't' ? '\t' : n);
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
