package io.storagebus.driver.support;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.Epoch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Volumes kept as files under a domain directory: {@code volumes/} holds live volumes,
 * {@code delinked/} the ones delinked and not purged. Each volume is a data file and an
 * {@code <id>.meta.json}; the metadata is written last and removed first, so a data file without
 * metadata is an unfinished operation and never counts as a volume.
 */
public final class VolumeFiles {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeFiles.class);
    private static final ObjectMapper JSON = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    private static final String META = ".meta.json";
    /** A create's or write's temporary: of a term ({@code .e<epoch>}), or of a release before terms named them (a UUID). */
    private static final Pattern TERM_TEMPORARY = Pattern.compile("\\..+\\.(?:creating|writing)\\.(?:e(\\d+)|\\p{XDigit}{8}-[\\p{XDigit}-]{27})");
    /** The highest term whose older temporaries were removed, by volumes directory. */
    private static final Map<Path, Long> SWEPT = new ConcurrentHashMap<>();

    private final Path root;

    public VolumeFiles(Path root) {
        this.root = root;
    }

    /** The live-volume directory, created if missing; the domain directory itself must exist. */
    public Path volumesDir() throws DriverException {
        return dir("volumes");
    }

    public Path delinkedDir() throws DriverException {
        return dir("delinked");
    }

    private Path dir(String name) throws DriverException {
        return LocalFiles.domainDirectory(root, name);
    }

    public Optional<VolumeMeta> live(String volumeId) throws DriverException {
        return read(volumesDir(), volumeId);
    }

    public Optional<VolumeMeta> delinked(String volumeId) throws DriverException {
        return read(delinkedDir(), volumeId);
    }

    public VolumeMeta liveOrThrow(String volumeId) throws DriverException {
        return live(volumeId).orElseThrow(() -> new DriverException(DriverException.Code.NOT_FOUND, "no volume " + volumeId + " in " + root));
    }

    public Path dataOf(VolumeMeta meta) throws DriverException {
        return volumesDir().resolve(meta.dataFile());
    }

    public void writeMeta(VolumeMeta meta) throws DriverException {
        Path file = volumesDir().resolve(meta.volumeId() + META);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(meta));
            move(tmp, file);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw ioError("cannot write metadata of " + meta.volumeId(), e);
        }
    }

    public List<VolumeMeta> listLive() throws DriverException {
        return list(volumesDir());
    }

    public List<VolumeMeta> listDelinked() throws DriverException {
        return list(delinkedDir());
    }

    /** Live volumes whose copy-on-write parent is {@code volumeId}. */
    public List<String> children(String volumeId) throws DriverException {
        List<String> children = new ArrayList<>();
        for (VolumeMeta m : listLive()) {
            if (volumeId.equals(m.parent())) {
                children.add(m.volumeId());
            }
        }
        return children;
    }

    /** Moves a live volume, every layer of it, to {@code delinked/}. */
    public void delink(VolumeMeta meta) throws DriverException {
        moveVolume(meta, volumesDir(), delinkedDir());
    }

    /** Moves a delinked volume back: data first, metadata last. */
    public void restore(VolumeMeta meta) throws DriverException {
        moveVolume(meta, delinkedDir(), volumesDir());
    }

    private void moveVolume(VolumeMeta meta, Path from, Path to) throws DriverException {
        try {
            for (String file : meta.dataFiles()) {
                move(from.resolve(file), to.resolve(file));
            }
            move(from.resolve(meta.volumeId() + META), to.resolve(meta.volumeId() + META));
        } catch (IOException e) {
            throw ioError("cannot move volume " + meta.volumeId() + " to " + to, e);
        }
    }

    /** Deletes a volume's metadata, then its data, from {@code volumes/} or {@code delinked/}. */
    public void delete(VolumeMeta meta, boolean delinked) throws DriverException {
        Path dir = delinked ? delinkedDir() : volumesDir();
        try {
            Files.deleteIfExists(dir.resolve(meta.volumeId() + META));
            for (String file : meta.dataFiles()) {
                Files.deleteIfExists(dir.resolve(file));
            }
        } catch (IOException e) {
            throw ioError("cannot delete volume " + meta.volumeId(), e);
        }
    }

    /**
     * Reads and checks {@code <volumeId>.meta.json} in {@code dir}. Metadata on storage is input
     * from a stranger (anyone who can write the directory, or a domain attached from elsewhere):
     * it is refused unless every name in it is one this driver would have written and every data
     * file it names is a plain file in {@code dir}, so no operation reaches outside the domain.
     */
    private static Optional<VolumeMeta> read(Path dir, String volumeId) throws DriverException {
        Path meta = dir.resolve(volumeId + META);
        VolumeMeta read;
        try {
            read = JSON.readValue(meta.toFile(), VolumeMeta.class);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            return Optional.empty();
        } catch (IOException e) {
            if (!Files.exists(meta)) {
                return Optional.empty();
            }
            throw ioError("unreadable volume metadata " + meta, e);
        }
        String problem = StoredMetadata.problemOf(read, volumeId, dir);
        if (problem != null) {
            throw new DriverException(DriverException.Code.IO_ERROR, "volume metadata " + meta + " refused: " + problem);
        }
        return Optional.of(read);
    }

    /** Every volume in {@code dir}; metadata that is unreadable or refused is left out and logged, so one bad file blocks nothing else. */
    private static List<VolumeMeta> list(Path dir) throws DriverException {
        List<VolumeMeta> result = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files.filter(f -> f.getFileName().toString().endsWith(META)).sorted()::iterator) {
                String name = p.getFileName().toString();
                try {
                    read(dir, name.substring(0, name.length() - META.length())).ifPresent(result::add);
                } catch (DriverException e) {
                    LOG.warn("{}: not a volume: {}", p, e.getMessage());
                }
            }
        } catch (IOException e) {
            throw ioError("cannot list " + dir, e);
        }
        return result;
    }

    /**
     * A temporary file beside the volumes, unique to this call (two SPM terms may work on the same
     * volume id at once, and neither may touch the other's temporary data).
     */
    public Path temporary(String volumeId, String purpose) throws DriverException {
        return volumesDir().resolve("." + volumeId + "." + purpose + "." + java.util.UUID.randomUUID());
    }

    /**
     * A volume's temporary file for an operation of one SPM term. A redo in the same term replaces
     * it; a newer term's never collides with that of a deposed term still running, so neither
     * touches the other's data.
     */
    public Path temporary(String volumeId, String purpose, Epoch epoch) throws DriverException {
        return volumesDir().resolve("." + volumeId + "." + purpose + ".e" + epoch.value());
    }

    /**
     * Removes the temporary files older terms left (a crashed or deposed SPM's interrupted
     * creates and writes): their commands are redone by this term, so they are orphans. Once per
     * term and domain directory in this process, not per operation: a listing of the domain costs
     * O(volumes) and would make every create slower as the domain grows.
     */
    public void removeOlderTermsTemporaries(Epoch epoch) throws DriverException {
        Path dir = volumesDir().toAbsolutePath().normalize();
        Long swept = SWEPT.put(dir, epoch.value());
        if (swept != null && swept >= epoch.value()) {
            return;
        }
        try (Stream<Path> files = Files.list(dir)) {
            files.filter(f -> isOlderTermsTemporary(f.getFileName().toString(), epoch)).forEach(VolumeFiles::deleteQuietly);
        } catch (IOException e) {
            throw ioError("cannot list " + root, e);
        }
    }

    private static boolean isOlderTermsTemporary(String name, Epoch epoch) {
        Matcher m = TERM_TEMPORARY.matcher(name);
        return m.matches() && (m.group(1) == null || Long.parseLong(m.group(1)) < epoch.value());
    }

    public static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    public static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // best effort: leftovers without metadata are replaced by the next operation on the id
        }
    }

    /** Bytes the filesystem really allocated for the file (sparse files use less than their length). */
    public static long actualBytes(Path file) throws DriverException {
        return AllocatedBytes.of(file);
    }

    public static DriverException ioError(String what, IOException e) {
        boolean full = e.getMessage() != null && e.getMessage().contains("No space left");
        return new DriverException(full ? DriverException.Code.NO_SPACE : DriverException.Code.IO_ERROR, what + ": " + e.getMessage(), e);
    }
}
