package io.storagebus.worker.transfer;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.support.Processes;
import io.storagebus.driver.support.SparseFile;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** What the SPM does with a staged image file: checksums, extents, conversions, and the checks an image from a stranger needs. */
public final class StagedImage {
    private static final String INVALID_IMAGE = "INVALID_IMAGE";

    private StagedImage() {
    }

    /** SHA-256 (hex) of the first {@code size} bytes of {@code file}; its holes are hashed as zeros, never read. */
    public static String sha256(Path file, long size) throws IOException, DriverException {
        return SparseFile.sha256(file, size);
    }

    /** Sets the file's length; growing it leaves a hole. */
    public static void setLength(Path file, long size) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
        }
    }

    /**
     * Where the file has data and where it is a hole, as a JSON array of
     * {@code {"start", "length", "zero"}}: the file's own bytes, whatever format they are in, so
     * a client fetches only the data and leaves the rest a hole too.
     */
    public static String extents(Path file) throws DriverException {
        JsonArray map = new JsonArray(Processes.run(List.of("qemu-img", "map", "-f", "raw", "--output=json", file.toString())));
        JsonArray out = new JsonArray();
        for (Object o : map) {
            JsonObject e = (JsonObject) o;
            out.add(new JsonObject().put("start", e.getLong("start")).put("length", e.getLong("length"))
                    .put("zero", !e.getBoolean("data", true)));
        }
        return out.encode();
    }

    /**
     * The virtual size of an uploaded image, after the checks a stranger's image needs: a qcow2
     * image may name a backing file or an external data file (any file of this host, read into
     * the volume), and may be corrupt; each is refused. A raw image is its bytes.
     */
    public static long checkedVirtualSize(Path image, VolumeFormat format, long size) throws ImageRefusedException {
        if (format == VolumeFormat.RAW) {
            return size;
        }
        JsonObject info;
        try {
            info = new JsonObject(Processes.run(List.of("qemu-img", "info", "-f", "qcow2", "--output=json", image.toString())));
        } catch (DriverException e) {
            throw new ImageRefusedException(INVALID_IMAGE, "the image is not a readable qcow2 image: " + e.getMessage());
        }
        if (info.getString("backing-filename") != null) {
            throw new ImageRefusedException(INVALID_IMAGE, "the image names a backing file ('"
                    + info.getString("backing-filename") + "'); upload a whole image (qemu-img convert -O qcow2 flattens one)");
        }
        JsonObject specific = info.getJsonObject("format-specific", new JsonObject()).getJsonObject("data", new JsonObject());
        if (specific.getString("data-file") != null) {
            throw new ImageRefusedException(INVALID_IMAGE, "the image keeps its data in an external file ('"
                    + specific.getString("data-file") + "'); upload a self-contained image");
        }
        try {
            Processes.run(List.of("qemu-img", "check", "-q", "-f", "qcow2", image.toString()));
        } catch (DriverException e) {
            throw new ImageRefusedException(INVALID_IMAGE, "the image is damaged: " + e.getMessage());
        }
        return info.getLong("virtual-size");
    }

    /** Converts {@code from} into a new sparse image {@code to}; zeros become holes or unallocated clusters. */
    public static void convert(Path from, VolumeFormat fromFormat, Path to, VolumeFormat toFormat) throws DriverException {
        Processes.run(List.of("qemu-img", "convert", "-q", "-f", lower(fromFormat), "-O", lower(toFormat), from.toString(), to.toString()));
    }

    /** Grows a qcow2 image's virtual size (its new space reads as zeros). */
    public static void growQcow2(Path image, long virtualSize) throws DriverException {
        Processes.run(List.of("qemu-img", "resize", "-q", "-f", "qcow2", image.toString(), Long.toString(virtualSize)));
    }

    private static String lower(VolumeFormat format) {
        return format.name().toLowerCase(Locale.ROOT);
    }
}
