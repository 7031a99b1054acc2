package io.storagebus.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A StorageBus host worker in its own JVM, as on a hypervisor host, so tests can kill it
 * ({@code kill -9}), freeze it ({@code kill -STOP}) and thaw it ({@code kill -CONT}) for real.
 * It runs {@code io.storagebus.dist.Main worker} from the distribution's class path.
 */
public final class WorkerProcess implements AutoCloseable {
    private final String hostId;
    private final List<String> command;
    private final Path log;
    private Process process;

    /**
     * @param distDir the built {@code dist/target} directory (its jar and {@code lib/})
     */
    public WorkerProcess(Path distDir, String hostId, String bootstrapServers, String zkConnect, int sessionTimeoutMs, Path logDir) {
        this.hostId = hostId;
        this.log = logDir.resolve(hostId + ".log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = distDir.resolve("lib") + "/*:" + distDir + "/*";
        this.command = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", classpath, "io.storagebus.dist.Main", "worker",
                "--host-id", hostId, "--bootstrap-servers", bootstrapServers, "--zookeeper", zkConnect,
                "--zk-session-timeout-ms", Integer.toString(sessionTimeoutMs)));
    }

    public WorkerProcess start() throws IOException {
        process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        return this;
    }

    public String hostId() {
        return hostId;
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
