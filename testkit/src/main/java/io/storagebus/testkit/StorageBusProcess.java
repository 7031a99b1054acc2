package io.storagebus.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A StorageBus process in its own JVM ({@code io.storagebus.dist.Main <args>} from the
 * distribution's class path, as {@code bin/storagebus} runs it), so tests can kill it
 * ({@code kill -9}), freeze it ({@code kill -STOP}) and thaw it ({@code kill -CONT}) for real.
 */
public final class StorageBusProcess implements AutoCloseable {
    private final String name;
    private final List<String> command;
    private final Map<String, String> env;
    private final Path log;
    private Process process;

    /**
     * @param distDir the built {@code dist/target} directory (its jar and {@code lib/})
     * @param args what follows {@code bin/storagebus}
     */
    public StorageBusProcess(Path distDir, String name, List<String> args, Map<String, String> env, Path logDir) {
        this.name = name;
        this.env = Map.copyOf(env);
        this.log = logDir.resolve(name + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = distDir.resolve("lib") + "/*:" + distDir + "/*";
        this.command = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", classpath, "io.storagebus.dist.Main"));
        this.command.addAll(args);
    }

    /** A host worker, as on a hypervisor host. */
    public static StorageBusProcess worker(Path distDir, String hostId, String bootstrapServers, String zkConnect, int sessionTimeoutMs,
                                           Path logDir) {
        return worker(distDir, hostId, bootstrapServers, zkConnect, sessionTimeoutMs, logDir, Map.of(), List.of());
    }

    /** A host worker with an environment and more {@code --key value} options. */
    public static StorageBusProcess worker(Path distDir, String hostId, String bootstrapServers, String zkConnect, int sessionTimeoutMs,
                                           Path logDir, Map<String, String> env, List<String> options) {
        List<String> args = new ArrayList<>(List.of("worker", "--host-id", hostId, "--bootstrap-servers", bootstrapServers,
                "--kafka.security-protocol", "PLAINTEXT", "--commands.signatures", "off", "--zookeeper.tls", "off",
                "--zookeeper", zkConnect, "--zk-session-timeout-ms", Integer.toString(sessionTimeoutMs), "--http-port", "0",
                // Several workers share this machine: each its own transfer port and staging directory.
                "--transfer-port", "0", "--transfer-dir", logDir.resolve("transfers-" + hostId).toString()));
        args.addAll(options);
        return new StorageBusProcess(distDir, hostId, args, env, logDir);
    }

    /** A host's lease watchdog on {@code dir}, for workers whose session timeout is {@code sessionTimeoutMs}. */
    public static StorageBusProcess watchdog(Path distDir, Path dir, int sessionTimeoutMs, Path logDir) {
        return new StorageBusProcess(distDir, "watchdog", List.of("watchdog", "--dir", dir.toString(), "--session-timeout-ms",
                Integer.toString(sessionTimeoutMs)), Map.of(), logDir);
    }

    /** Starts it; a process started again after {@link #kill()} keeps appending to the same log. */
    public StorageBusProcess start() throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(env);
        process = builder.start();
        return this;
    }

    /** Waits for a short-lived command (such as {@code config check}) to end; its exit code. */
    public int waitFor(java.time.Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException(name + " did not end within " + timeout);
        }
        return process.exitValue();
    }

    public String name() {
        return name;
    }

    /** The host id, for a worker. */
    public String hostId() {
        return name;
    }

    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process != null && process.isAlive();
    }

    public Path log() {
        return log;
    }

    /** SIGKILL: the host crashes. */
    public void kill() throws Exception {
        signal("KILL");
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGSTOP: the host freezes (a long GC pause, a hung kernel) and keeps its sockets. */
    public void freeze() throws Exception {
        signal("STOP");
    }

    /** SIGCONT: the frozen host runs on, believing for a moment whatever it believed before. */
    public void thaw() throws Exception {
        signal("CONT");
    }

    private void signal(String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).start();
        if (kill.waitFor() != 0) {
            throw new IllegalStateException("kill -" + signal + " " + process.pid() + " failed");
        }
    }

    /** SIGTERM, then SIGKILL if it does not stop within 15 s. */
    @Override
    public void close() throws Exception {
        if (process == null || !process.isAlive()) {
            return;
        }
        signal("CONT");
        process.destroy();
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
