package io.storagebus.driver.file;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.storagebus.driver.Allocation;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.PropertyDescriptor;
import io.storagebus.driver.PropertyType;
import io.storagebus.driver.PropertyViolation;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;

/**
 * Volumes as files in a directory on any POSIX filesystem (local, NFS, ...).
 *
 * <p>Layout: {@code <path>/volumes/<id>.raw|.qcow2} holds the data and {@code <id>.meta.json}
 * beside it describes the volume, so a domain directory is self-describing and can be attached
 * elsewhere. The metadata file is written last, by atomic rename: a data file without metadata is
 * an unfinished create and is replaced by the next create of the same id.
 */
public final class FileDriver implements StorageDriver {
    public static final String NAME = "file";
    public static final String PATH = "path";
    static final String VOLUMES_DIR = "volumes";

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.THIN, Capability.SHARED);
    }

    @Override
    public List<PropertyDescriptor> properties() {
        return List.of(PropertyDescriptor.required(PATH, PropertyType.PATH,
                "absolute path of an existing, writable directory that holds the domain's volumes"));
    }

    @Override
    public List<PropertyViolation> validate(Map<String, String> properties) {
        List<PropertyViolation> violations = new ArrayList<>();
        Path dir = Path.of(properties.get(PATH));
        if (!Files.exists(dir)) {
            violations.add(new PropertyViolation(PATH, "NOT_FOUND", "directory " + dir + " does not exist"));
        } else if (!Files.isDirectory(dir)) {
            violations.add(new PropertyViolation(PATH, "NOT_A_DIRECTORY", dir + " is not a directory"));
        } else if (!Files.isWritable(dir)) {
            violations.add(new PropertyViolation(PATH, "NOT_WRITABLE", "directory " + dir + " is not writable"));
        }
        return violations;
    }

    @Override
    public VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException {
        Path dir = volumesDir(domain);
        Path data = dir.resolve(spec.volumeId() + "." + extension(spec.format()));
        Path meta = dir.resolve(spec.volumeId() + ".meta.json");

        VolumeInfo existing = readMeta(meta);
        if (existing != null) {
            if (existing.virtualSize() == spec.virtualSize() && existing.format() == spec.format()
                    && existing.allocation() == spec.allocation()) {
                return existing;
            }
            throw new DriverException(DriverException.Code.CONFLICT,
                    "volume " + spec.volumeId() + " already exists in domain " + domain.id() + " with another size or format");
        }
        if (spec.allocation() == Allocation.PREALLOCATED) {
            requireFreeSpace(dir, spec.virtualSize());
        }

        Path tmp = dir.resolve("." + spec.volumeId() + ".creating");
        try {
            Files.deleteIfExists(tmp);
            writeData(tmp, spec);
            moveAtomically(tmp, data);
            VolumeInfo info = new VolumeInfo(spec.volumeId(), data.toUri().toString(), spec.virtualSize(),
                    allocatedBytes(data), spec.format(), spec.allocation());
            writeMeta(meta, spec, info);
            return info;
        } catch (IOException e) {
            deleteQuietly(tmp);
            deleteQuietly(data);
            boolean full = e.getMessage() != null && e.getMessage().contains("No space left");
            throw new DriverException(full ? DriverException.Code.NO_SPACE : DriverException.Code.IO_ERROR,
                    "cannot create volume " + spec.volumeId() + " in " + dir + ": " + e.getMessage(), e);
        } catch (DriverException e) {
            deleteQuietly(tmp);
            deleteQuietly(data);
            throw e;
        }
    }

    private static Path volumesDir(DomainContext domain) throws DriverException {
        Path root = Path.of(domain.property(PATH));
        if (!Files.isDirectory(root)) {
            throw new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE,
                    "domain " + domain.id() + ": directory " + root + " is missing");
        }
        Path dir = root.resolve(VOLUMES_DIR);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE, "cannot create " + dir + ": " + e.getMessage(), e);
        }
        return dir;
    }

    private static void writeData(Path file, VolumeSpec spec) throws IOException, DriverException {
        boolean preallocate = spec.allocation() == Allocation.PREALLOCATED;
        if (spec.format() == VolumeFormat.RAW && !preallocate) {
            // A sparse file needs no tool: set its length and let the filesystem allocate on write.
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(spec.virtualSize());
            }
        } else {
            QemuImg.create(file, extension(spec.format()), spec.virtualSize(), preallocate);
        }
    }

    private static void writeMeta(Path meta, VolumeSpec spec, VolumeInfo info) throws IOException {
        Map<String, Object> content = Map.of(
                "volumeId", spec.volumeId(),
                "name", spec.name(),
                "virtualSize", spec.virtualSize(),
                "format", spec.format().name(),
                "allocation", spec.allocation().name(),
                "uri", info.uri());
        Path tmp = meta.resolveSibling(meta.getFileName() + ".tmp");
        Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(content));
        moveAtomically(tmp, meta);
    }

    private static VolumeInfo readMeta(Path meta) throws DriverException {
        if (!Files.exists(meta)) {
            return null;
        }
        try {
            Map<?, ?> m = JSON.readValue(meta.toFile(), Map.class);
            Path data = Path.of(java.net.URI.create((String) m.get("uri")));
            return new VolumeInfo((String) m.get("volumeId"), (String) m.get("uri"),
                    ((Number) m.get("virtualSize")).longValue(), allocatedBytes(data),
                    VolumeFormat.valueOf((String) m.get("format")), Allocation.valueOf((String) m.get("allocation")));
        } catch (IOException | RuntimeException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "unreadable volume metadata " + meta + ": " + e.getMessage(), e);
        }
    }

    private static void requireFreeSpace(Path dir, long bytes) throws DriverException {
        try {
            long free = Files.getFileStore(dir).getUsableSpace();
            if (free < bytes) {
                throw new DriverException(DriverException.Code.NO_SPACE,
                        "domain has " + free + " bytes free, the preallocated volume needs " + bytes);
            }
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot read free space of " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Bytes the filesystem really allocated (sparse files use less than their length). */
    static long allocatedBytes(Path file) throws IOException {
        // The JDK does not expose st_blocks; stat(1) does.
        Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
        try {
            if (p.waitFor() != 0) {
                throw new IOException("stat " + file + ": " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reading size of " + file, e);
        }
        String[] parts = out.split(" ");
        return Long.parseLong(parts[0]) * Long.parseLong(parts[1]);
    }

    private static String extension(VolumeFormat format) {
        return format.name().toLowerCase(Locale.ROOT);
    }

    private static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // best effort: the next create of this id replaces leftovers anyway
        }
    }
}
