package io.storagebus.driver.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.storagebus.driver.DriverException;

/** Runs storage tools ({@code qemu-img}, lvm2, {@code losetup}); a failure quotes the tool's own message. */
public final class Processes {
    private static final long TIMEOUT_SECONDS = 600;

    /** How a tool ended: its exit code and both outputs. */
    public record Result(int exitCode, String stdout, String stderr) {
    }

    private Processes() {
    }

    /** Runs the command and returns its standard output; a non-zero exit is a {@link DriverException}. */
    public static String run(List<String> cmd) throws DriverException {
        return run(cmd, Map.of());
    }

    /** As {@link #run(List)}, with extra environment variables. */
    public static String run(List<String> cmd, Map<String, String> env) throws DriverException {
        Result result = exec(cmd, env);
        if (result.exitCode() != 0) {
            throw failed(cmd.get(0), result.exitCode(), result.stderr().isEmpty() ? result.stdout().trim() : result.stderr());
        }
        return result.stdout();
    }

    /** Runs the command to its end, whatever its exit code; only a tool that cannot run or times out is a {@link DriverException}. */
    public static Result exec(List<String> cmd, Map<String, String> env) throws DriverException {
        Process process;
        try {
            ProcessBuilder builder = new ProcessBuilder(cmd);
            builder.environment().putAll(env);
            process = builder.start();
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot run " + cmd.get(0) + " (is it installed?): " + e.getMessage(), e);
        }
        try {
            process.getOutputStream().close();
            // stderr is small; read it on its own thread so a chatty stdout cannot block the tool.
            var stderr = new java.util.concurrent.CompletableFuture<String>();
            Thread drain = new Thread(() -> {
                try {
                    stderr.complete(new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
                } catch (IOException e) {
                    stderr.complete("");
                }
            }, "stderr-" + cmd.get(0));
            drain.setDaemon(true);
            drain.start();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new DriverException(DriverException.Code.IO_ERROR, String.join(" ", cmd) + " timed out");
            }
            return new Result(process.exitValue(), out, stderr.get(10, TimeUnit.SECONDS).trim());
        } catch (IOException | java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, cmd.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new DriverException(DriverException.Code.IO_ERROR, "interrupted while running " + cmd.get(0), e);
        }
    }

    /**
     * A tool's failure as callers can act on it: out of space is {@link DriverException.Code#NO_SPACE},
     * anything else an I/O error quoting the tool's message (lvm2's "activation disabled" warning left out).
     */
    public static DriverException failed(String tool, int exitCode, String toolMessage) {
        String message = toolMessage.replaceAll("\\s*WARNING: Activation disabled[^\\n]*\\n?", " ").trim();
        String lower = message.toLowerCase(Locale.ROOT);
        DriverException.Code code = lower.contains("no space left") || lower.contains("insufficient free space")
                ? DriverException.Code.NO_SPACE : DriverException.Code.IO_ERROR;
        return new DriverException(code, tool + " failed (exit " + exitCode + "): " + message);
    }
}
