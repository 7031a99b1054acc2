package io.storagebus.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real QEMU with a QMP unix socket, for tests. It is started with {@code -daemonize}, so the
 * launcher returns once QEMU has initialised and its QMP socket listens: no waiting on files.
 */
public final class QemuProcess implements AutoCloseable {
    public static final String BINARY = "qemu-system-x86_64";

    private final Path qmpSocket;
    private final ProcessHandle process;
    private final Path log;

    private QemuProcess(Path qmpSocket, ProcessHandle process, Path log) {
        this.qmpSocket = qmpSocket;
        this.process = process;
        this.log = log;
    }

    /** Whether {@code qemu-system-x86_64} can run here. */
    public static boolean available() {
        return Binaries.run(BINARY, "--version");
    }

    /**
     * Starts QEMU with no default devices, no display, its QMP socket at {@code dir/qmp.sock}
     * and the given machine and device arguments.
     */
    public static QemuProcess start(Path dir, List<String> args) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path socket = dir.resolve("qmp.sock");
        Path pidFile = dir.resolve("qemu.pid");
        Path log = dir.resolve("qemu.log");
        Files.deleteIfExists(socket);
        Files.deleteIfExists(pidFile);
        List<String> cmd = new ArrayList<>(List.of(BINARY, "-nodefaults", "-display", "none", "-accel", "tcg",
                "-qmp", "unix:" + socket + ",server=on,wait=off", "-daemonize", "-pidfile", pidFile.toString(),
                "-D", log.toString()));
        cmd.addAll(args);
        Process launcher = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("launch.log").toFile()).start();
        if (!launcher.waitFor(60, TimeUnit.SECONDS) || launcher.exitValue() != 0) {
            launcher.destroyForcibly();
            throw new IOException("QEMU did not start: " + String.join(" ", cmd) + "\n" + Files.readString(dir.resolve("launch.log")));
        }
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        ProcessHandle handle = ProcessHandle.of(pid).orElseThrow(() -> new IOException("QEMU " + pid + " exited at once; see " + log));
        return new QemuProcess(socket, handle, log);
    }

    public Path qmpSocket() {
        return qmpSocket;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Waits until QEMU exits on its own (the guest shut it down, or QMP {@code quit}). */
    public boolean awaitExit(java.time.Duration timeout) {
        try {
            process.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Kills QEMU as a crash would and waits until it is gone. */
    public void kill() {
        process.destroyForcibly();
        process.onExit().orTimeout(30, TimeUnit.SECONDS).join();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            kill();
        }
    }

    @Override
    public String toString() {
        return "QEMU " + process.pid() + " (log " + log + ")";
    }
}
