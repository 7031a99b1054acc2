package io.storagebus.driver.support;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;

import io.storagebus.driver.VolumeUri;

/**
 * The checks a volume's metadata read back from a domain directory must pass: the same rules a
 * REST request meets for ids and names, and data files that are plain files of the volume in the
 * volume's own directory, never a path or a link that leads elsewhere.
 */
public final class StoredMetadata {
    /** A volume or snapshot name as the REST API accepts it. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** A data file name as the drivers write them: {@code <volumeId>.<ext>} or {@code <volumeId>.g<N>.<ext>}. */
    private static final Pattern DATA_FILE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}\\.(g[0-9]{1,9}\\.)?[a-z0-9]{1,8}");

    private StoredMetadata() {
    }

    /** Whether a volume or snapshot name read from storage is one the REST API would have accepted. */
    public static boolean isName(String name) {
        return name != null && NAME.matcher(name).matches() && !name.contains("..");
    }

    /** Why {@code meta}, found as {@code <expectedId>.meta.json} in {@code dir}, cannot be used; null if it can. */
    static String problemOf(VolumeMeta meta, String expectedId, Path dir) {
        if (meta.volumeId() == null || !meta.volumeId().equals(expectedId) || !VolumeUri.ID.matcher(expectedId).matches()) {
            return "volumeId '" + meta.volumeId() + "' is not the id its file is named by ('" + expectedId + "')";
        }
        if (!isName(meta.name())) {
            return "name '" + meta.name() + "' is not a volume name";
        }
        if (meta.virtualSize() <= 0 || meta.format() == null || meta.allocation() == null) {
            return "virtualSize, format and allocation must be set, got " + meta.virtualSize() + ", " + meta.format() + ", " + meta.allocation();
        }
        if (meta.parent() != null && !VolumeUri.ID.matcher(meta.parent()).matches()) {
            return "parent '" + meta.parent() + "' is not a volume id";
        }
        if (meta.generation() < 0) {
            return "generation " + meta.generation() + " is negative";
        }
        Set<String> seen = new HashSet<>();
        for (LayerMeta layer : meta.snapshots()) {
            if (layer == null || layer.snapshotId() == null || !VolumeUri.ID.matcher(layer.snapshotId()).matches()) {
                return "a snapshot's id is not an id: " + layer;
            }
            if (!isName(layer.name()) || layer.status() == null) {
                return "snapshot " + layer.snapshotId() + " has no valid name or status";
            }
        }
        for (String file : meta.dataFiles()) {
            String why = dataFileProblem(file, expectedId, dir);
            if (why != null) {
                return why;
            }
            if (!seen.add(file)) {
                return "data file '" + file + "' is named twice";
            }
        }
        return null;
    }

    private static String dataFileProblem(String file, String volumeId, Path dir) {
        if (file == null || !DATA_FILE.matcher(file).matches() || !file.startsWith(volumeId + ".")) {
            return "data file '" + file + "' is not a file name of volume " + volumeId;
        }
        Path path = dir.resolve(file);
        if (Files.isSymbolicLink(path) || Files.exists(path, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
            return "data file '" + file + "' is not a regular file of " + dir + " (a link or a device would lead outside the domain)";
        }
        return null;
    }
}
