package io.storagebus.driver.support;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.Epoch;
import io.storagebus.driver.Fence;
import io.storagebus.driver.FencedException;

/**
 * Storage-side fencing of a directory domain. {@code <path>/dom_md/epoch} holds the highest SPM
 * epoch that ever wrote the domain's metadata; {@code dom_md/epoch.log} records every fenced
 * write (epoch, operation, volume, time), append-only. A metadata write runs under the domain's
 * lock ({@code dom_md/lock}, an OS file lock, plus a JVM lock for threads of one process): it is
 * refused if its epoch is older than the recorded one, so once a new SPM has written, a deposed
 * SPM's late write cannot land, whatever ZooKeeper and Kafka believe at that moment.
 */
public final class DirectoryFence {
    private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

    private DirectoryFence() {
    }

    /** A metadata change under the fence. */
    @FunctionalInterface
    public interface Write<T> {
        T run() throws DriverException;
    }

    /** One line of the epoch log. */
    public record Entry(long epoch, String operation, String volumeId, long millis) {
    }

    /** The fence of directory domains whose root {@code root} names: what the {@link io.storagebus.driver.FencedDriver} advances. */
    public static Fence at(Function<DomainContext, Path> root) {
        return new Fence() {
            @Override
            public void advance(DomainContext domain) throws DriverException {
                // Read without the lock unless there is a newer epoch to record: the epoch file is
                // replaced by a rename, so this read sees a whole value, and every metadata commit
                // checks again under the lock (guard). Locking here too cost each extend a second
                // file lock on the domain's busiest path.
                Path path = root.apply(domain);
                Epoch seen = Epoch.of(DirectoryFence.highest(path));
                if (domain.epoch().isOlderThan(seen)) {
                    throw new FencedException(domain.id(), domain.epoch(), seen);
                }
                if (seen.isOlderThan(domain.epoch())) {
                    locked(path, domain, () -> null);
                }
            }

            @Override
            public Epoch highest(DomainContext domain) throws DriverException {
                return Epoch.of(DirectoryFence.highest(root.apply(domain)));
            }
        };
    }

    /**
     * Runs {@code write} if {@code domain}'s epoch is not older than the domain's, and logs it;
     * unfenced contexts run unfenced. The check and the write are one step under the domain's
     * lock: this is where a driver commits metadata.
     */
    public static <T> T guard(Path root, DomainContext domain, String operation, String volumeId, Write<T> write) throws DriverException {
        if (!domain.epoch().isFenced()) {
            return write.run();
        }
        return locked(root, domain, () -> {
            T result = write.run();
            try {
                // Not synced: the log is an audit of the order of writes, and the fence is the epoch
                // file. A crash may lose the log's last lines, never reorder them; syncing it cost
                // every create a disk flush.
                Files.writeString(metadataDir(root).resolve("epoch.log"), domain.epoch().value() + " " + operation + " " + volumeId + " "
                        + System.currentTimeMillis() + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw VolumeFiles.ioError("cannot log a fenced write of domain " + domain.id(), e);
            }
            return result;
        });
    }

    /** Under the domain's lock: refuses an epoch older than the recorded one, records a newer one, then runs {@code write}. */
    private static <T> T locked(Path root, DomainContext domain, Write<T> write) throws DriverException {
        Path md = metadataDir(root);
        ReentrantLock jvmLock = JVM_LOCKS.computeIfAbsent(md.toAbsolutePath().normalize(), p -> new ReentrantLock());
        jvmLock.lock();
        try (FileChannel lockFile = FileChannel.open(md.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = lockFile.lock()) {
            Epoch seen = Epoch.of(highest(root));
            if (domain.epoch().isOlderThan(seen)) {
                throw new FencedException(domain.id(), domain.epoch(), seen);
            }
            if (seen.isOlderThan(domain.epoch())) {
                Path tmp = md.resolve("epoch.tmp");
                Files.writeString(tmp, Long.toString(domain.epoch().value()));
                VolumeFiles.move(tmp, md.resolve("epoch"));
            }
            return write.run();
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot take the fencing lock of domain " + domain.id(), e);
        } finally {
            jvmLock.unlock();
        }
    }

    /** The highest epoch that has written the domain, 0 if none. */
    public static long highest(Path root) throws DriverException {
        Path file = root.resolve("dom_md").resolve("epoch");
        try {
            return Files.exists(file) ? Long.parseLong(Files.readString(file).trim()) : 0;
        } catch (IOException | NumberFormatException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "unreadable epoch of " + root + ": " + e.getMessage(), e);
        }
    }

    /** Every fenced write in order, for audits: epochs must never go down. */
    public static List<Entry> log(Path root) throws IOException {
        Path file = root.resolve("dom_md").resolve("epoch.log");
        List<Entry> entries = new ArrayList<>();
        if (!Files.exists(file)) {
            return entries;
        }
        for (String line : Files.readAllLines(file)) {
            String[] f = line.split(" ");
            if (f.length == 4) {
                entries.add(new Entry(Long.parseLong(f[0]), f[1], f[2], Long.parseLong(f[3])));
            }
        }
        return entries;
    }

    private static Path metadataDir(Path root) throws DriverException {
        return LocalFiles.domainDirectory(root, "dom_md");
    }
}
