package io.storagebus.driver.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.PropertyViolation;

/** File operations the drivers that keep volumes in a local or mounted directory share. */
public final class LocalFiles {
    private static final int BUFFER = 1 << 20;
    private static final byte[] ZEROS = new byte[BUFFER];

    private LocalFiles() {
    }

    /** The directory must exist, be a directory and be writable. */
    public static List<PropertyViolation> directoryViolations(String property, Path dir) {
        List<PropertyViolation> violations = new ArrayList<>();
        if (!Files.exists(dir)) {
            violations.add(new PropertyViolation(property, "NOT_FOUND", "directory " + dir + " does not exist"));
        } else if (!Files.isDirectory(dir)) {
            violations.add(new PropertyViolation(property, "NOT_A_DIRECTORY", dir + " is not a directory"));
        } else if (systemDirectory(dir) != null) {
            violations.add(new PropertyViolation(property, "SYSTEM_DIRECTORY", "directory " + dir + " is " + systemDirectory(dir)
                    + ", which belongs to the operating system; a domain needs a directory of its own"));
        } else if (!Files.isWritable(dir)) {
            violations.add(new PropertyViolation(property, "NOT_WRITABLE", "directory " + dir + " is not writable"));
        }
        return violations;
    }

    /** The operating system's directories a domain's {@code volumes/} would litter or break: the root and what lies under these. */
    private static final List<Path> SYSTEM = List.of("/proc", "/sys", "/dev", "/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32",
            "/lib64", "/usr", "/run/storagebus").stream().map(Path::of).toList();

    /**
     * The domain's directory {@code name} under {@code root}, created if missing. One {@code stat}
     * when it exists, which is every call but the first: {@link Files#createDirectories} tries
     * {@code mkdir} first and builds an exception inside on every call, and the extend path asks
     * for a domain's directories several times per extend.
     */
    public static Path domainDirectory(Path root, String name) throws DriverException {
        Path dir = root.resolve(name);
        if (Files.isDirectory(dir)) {
            return dir;
        }
        if (!Files.isDirectory(root)) {
            throw new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE, "domain directory " + root + " is missing");
        }
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE, "cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

    /** How {@code dir} (links resolved) is a system directory, or null. */
    private static String systemDirectory(Path dir) {
        Path real;
        try {
            real = dir.toRealPath();
        } catch (IOException e) {
            return null;
        }
        if (real.getNameCount() == 0) {
            return "the root directory";
        }
        return SYSTEM.stream().filter(real::startsWith).findFirst().map(s -> real.equals(s) ? s.toString() : "under " + s).orElse(null);
    }

    public static void requireFreeSpace(Path dir, long bytes) throws DriverException {
        long free = usableSpace(dir);
        if (free < bytes) {
            throw new DriverException(DriverException.Code.NO_SPACE, "domain has " + free + " bytes free, " + bytes + " are needed");
        }
    }

    /**
     * The space the file system holds for {@code dir}'s user: one {@code statvfs}. Not through
     * {@code Files.getFileStore}, which reads the whole mount table on every call and was the
     * largest cost of an extend's free-space check.
     */
    public static long usableSpace(Path dir) throws DriverException {
        return statvfs(dir, dir.toFile().getUsableSpace(), "free space");
    }

    /** The size of {@code dir}'s file system: one {@code statvfs}. */
    public static long totalSpace(Path dir) throws DriverException {
        return statvfs(dir, dir.toFile().getTotalSpace(), "size");
    }

    /** Java answers 0 for a directory it cannot stat: that is an error, not an empty file system. */
    private static long statvfs(Path dir, long answer, String what) throws DriverException {
        if (answer == 0 && !Files.isDirectory(dir)) {
            throw VolumeFiles.ioError("cannot read the " + what + " of " + dir, new NoSuchFileException(dir.toString()));
        }
        return answer;
    }

    /** Copies at most {@code length} bytes with one buffer; returns how many there were. */
    public static long copy(InputStream in, OutputStream out, long length) throws IOException {
        byte[] buffer = new byte[BUFFER];
        long total = 0;
        while (total < length) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, length - total));
            if (n < 0) {
                break;
            }
            out.write(buffer, 0, n);
            total += n;
        }
        return total;
    }

    /**
     * Copies at most {@code length} bytes into a new file, leaving holes where the data is zeros,
     * so a restored thin volume stays as sparse as the original. Returns how many bytes there were.
     */
    public static long copySparse(InputStream in, Path file, long length) throws IOException {
        byte[] buffer = new byte[BUFFER];
        long total = 0;
        try (java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            while (total < length) {
                int n = in.readNBytes(buffer, 0, (int) Math.min(buffer.length, length - total));
                if (n <= 0) {
                    break;
                }
                if (!allZero(buffer, n)) {
                    java.nio.ByteBuffer data = java.nio.ByteBuffer.wrap(buffer, 0, n);
                    while (data.hasRemaining()) {
                        out.write(data, total + data.position());
                    }
                }
                total += n;
            }
            // Trailing zeros are a hole too: the length says where the file ends.
            if (out.size() < total) {
                out.write(java.nio.ByteBuffer.wrap(new byte[1]), total - 1);
            }
        }
        return total;
    }

    /** Whether the first {@code n} bytes are zeros; {@code Arrays.mismatch} compares a vector at a time. */
    private static boolean allZero(byte[] buffer, int n) {
        return java.util.Arrays.mismatch(buffer, 0, n, ZEROS, 0, n) < 0;
    }

    /** Overwrites the whole file with zeros and syncs it, so the data is gone from the disk too. */
    public static void zero(Path data) throws DriverException {
        try (RandomAccessFile raf = new RandomAccessFile(data.toFile(), "rw")) {
            byte[] zeros = new byte[BUFFER];
            long length = raf.length();
            for (long done = 0; done < length; done += zeros.length) {
                raf.write(zeros, 0, (int) Math.min(zeros.length, length - done));
            }
            raf.getFD().sync();
        } catch (IOException e) {
            throw VolumeFiles.ioError("cannot wipe " + data, e);
        }
    }
}
