package io.storagebus.driver.support;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.storagebus.driver.DriverException;

/** Runs storage tools ({@code qemu-img}, lvm2, {@code losetup}); a failure quotes the tool's own message. */
public final class Processes {
    private static final long TIMEOUT_SECONDS = 600;

    private Processes() {
    }

    /** Runs the command and returns its standard output; a non-zero exit is a {@link DriverException}. */
    public static String run(List<String> cmd) throws DriverException {
        return run(cmd, java.util.Map.of());
    }

    /** As {@link #run(List)}, with extra environment variables. */
    public static String run(List<String> cmd, java.util.Map<String, String> env) throws DriverException {
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
            String err = stderr.get(10, TimeUnit.SECONDS).trim();
            if (process.exitValue() != 0) {
                String message = (err.isEmpty() ? out.trim() : err).replaceAll("\\s*WARNING: Activation disabled[^\\n]*\\n?", " ").trim();
                String lower = message.toLowerCase(java.util.Locale.ROOT);
                DriverException.Code code = lower.contains("no space left") || lower.contains("insufficient free space")
                        ? DriverException.Code.NO_SPACE : DriverException.Code.IO_ERROR;
                throw new DriverException(code, cmd.get(0) + " failed (exit " + process.exitValue() + "): " + message);
            }
            return out;
        } catch (IOException | java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, cmd.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new DriverException(DriverException.Code.IO_ERROR, "interrupted while running " + cmd.get(0), e);
        }
    }
}
