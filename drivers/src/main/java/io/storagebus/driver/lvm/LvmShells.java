package io.storagebus.driver.lvm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;

import io.storagebus.driver.DriverException;

/**
 * Up to {@code size} long-lived {@link LvmShell}s, each serving one command at a time, started
 * when first needed. The most recently used idle shell serves next, so a quiet driver keeps one
 * busy and the others sleep; a shell that broke is dropped and replaced on demand.
 */
final class LvmShells implements AutoCloseable {
    /** How many shells a process keeps at most; 0 runs every lvm2 command as its own process. */
    static final String SIZE_VARIABLE = "STORAGEBUS_LVM_SHELLS";
    static final int DEFAULT_SIZE = 4;
    private static final Duration TIMEOUT = Duration.ofMinutes(10);
    private static LvmShells shared;
    private static boolean sharedMade;

    private final Path systemDir;
    private final Duration timeout;
    private final Semaphore permits;
    private final ConcurrentLinkedDeque<LvmShell> idle = new ConcurrentLinkedDeque<>();

    LvmShells(Path systemDir, int size, Duration timeout) {
        this.systemDir = systemDir;
        this.timeout = timeout;
        this.permits = new Semaphore(size, true);
    }

    /**
     * The process's shells, shared by every driver in it (they hold nothing of any driver's), or
     * null when {@value #SIZE_VARIABLE} is 0.
     */
    static synchronized LvmShells shared() throws DriverException {
        if (!sharedMade) {
            String size = System.getenv(SIZE_VARIABLE);
            int n;
            try {
                n = size == null || size.isBlank() ? DEFAULT_SIZE : Integer.parseInt(size.trim());
            } catch (NumberFormatException e) {
                throw new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE, SIZE_VARIABLE + " is not a number: " + size);
            }
            shared = n <= 0 ? null : new LvmShells(LvmConfig.systemDir(), n, TIMEOUT);
            sharedMade = true;
        }
        return shared;
    }

    LvmAnswer run(String command, String line) throws DriverException {
        try {
            permits.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DriverException(DriverException.Code.IO_ERROR, "interrupted while waiting for an lvm shell", e);
        }
        LvmShell shell = null;
        try {
            shell = idle.pollFirst();
            while (shell != null && !shell.usable()) {
                shell.close();
                shell = idle.pollFirst();
            }
            if (shell == null) {
                shell = LvmShell.start(systemDir, timeout);
            }
            try {
                return shell.run(command, line);
            } catch (LvmShell.Undelivered e) {
                shell.close();
                shell = LvmShell.start(systemDir, timeout);
                return shell.run(command, line);
            }
        } finally {
            if (shell != null) {
                if (shell.usable()) {
                    idle.offerFirst(shell);
                } else {
                    shell.close();
                }
            }
            permits.release();
        }
    }

    @Override
    public void close() {
        for (LvmShell shell; (shell = idle.pollFirst()) != null; ) {
            shell.close();
        }
    }
}
