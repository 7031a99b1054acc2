package io.storagebus.driver.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import io.storagebus.driver.DriverException;

/**
 * The newest lease epoch a volume of a directory domain was activated under, kept on the shared
 * storage beside the volumes ({@code lease-epochs/<volumeId>}): an activation under an older epoch
 * is refused. It keeps off a host that lost the lease while its activation was in flight (a worker
 * frozen between taking the lease and opening the volume) once another host has activated the
 * volume under a newer lease. The read, the comparison and the write happen under an exclusive
 * lock of the file (POSIX locks, which NFS v4 carries), so two hosts cannot both pass.
 *
 * <p>What it cannot do: stop a process that opened the volume before, and keeps it open (the lease
 * watchdog does that), or guard storage a host does not write (LVM's VG metadata, which only the
 * SPM writes).
 */
final class ActivationGuard {
    static final String DIR = "lease-epochs";

    private ActivationGuard() {
    }

    /** Records {@code leaseEpoch} for the volume, or refuses with {@code STALE_LEASE} if a newer one is recorded. */
    static void admit(Path domainDir, String volumeId, long leaseEpoch) throws DriverException {
        Path file = domainDir.resolve(DIR).resolve(volumeId);
        // File locks are per process: hosts in one process (dev mode, tests) take turns here first.
        synchronized (ActivationGuard.class) {
            admitLocked(file, volumeId, leaseEpoch);
        }
    }

    private static void admitLocked(Path file, String volumeId, long leaseEpoch) throws DriverException {
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                 FileLock lock = channel.lock()) {
                long recorded = recorded(channel, file);
                if (recorded > leaseEpoch) {
                    throw new DriverException(DriverException.Code.STALE_LEASE, "volume " + volumeId + " was activated under lease epoch "
                            + recorded + "; this host's lease epoch " + leaseEpoch + " is older: the lease has moved on");
                }
                channel.truncate(0);
                channel.write(ByteBuffer.wrap((leaseEpoch + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
                channel.force(true);
            }
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot record the lease epoch of volume " + volumeId + " in " + file
                    + ": " + e.getMessage(), e);
        }
    }

    /** Drops the record of a volume that is gone. */
    static void forget(Path domainDir, String volumeId) throws DriverException {
        try {
            Files.deleteIfExists(domainDir.resolve(DIR).resolve(volumeId));
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot remove the lease epoch of volume " + volumeId + ": "
                    + e.getMessage(), e);
        }
    }

    /** The recorded epoch (0 for a new file); anything else than a number is refused, not guessed at. */
    private static long recorded(FileChannel channel, Path file) throws IOException, DriverException {
        ByteBuffer buffer = ByteBuffer.allocate(32);
        channel.read(buffer, 0);
        String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.US_ASCII).trim();
        if (text.isEmpty()) {
            return 0;
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, file + " does not hold a lease epoch ('" + text
                    + "'): refusing to activate until it is removed or repaired");
        }
    }
}
