package io.storagebus.driver.file;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.storagebus.driver.DriverException;

/** Runs {@code qemu-img}; its failures become {@link DriverException}s that quote its message. */
final class QemuImg {
    private static final long TIMEOUT_SECONDS = 300;

    private QemuImg() {
    }

    static void create(Path file, String format, long size, boolean preallocate) throws DriverException {
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", format));
        if (preallocate) {
            cmd.add("-o");
            cmd.add("preallocation=falloc");
        }
        cmd.add(file.toString());
        cmd.add(Long.toString(size));
        run(cmd);
    }

    private static void run(List<String> cmd) throws DriverException {
        Process process;
        try {
            process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR,
                    "cannot run qemu-img (is qemu-utils installed?): " + e.getMessage(), e);
        }
        try {
            process.getOutputStream().close();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new DriverException(DriverException.Code.IO_ERROR, String.join(" ", cmd) + " timed out");
            }
            if (process.exitValue() != 0) {
                DriverException.Code code = output.contains("No space left") ? DriverException.Code.NO_SPACE : DriverException.Code.IO_ERROR;
                throw new DriverException(code, "qemu-img failed (exit " + process.exitValue() + "): " + output);
            }
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "qemu-img: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new DriverException(DriverException.Code.IO_ERROR, "interrupted while running qemu-img", e);
        }
    }
}
