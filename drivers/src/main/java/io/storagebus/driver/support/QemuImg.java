package io.storagebus.driver.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.VolumeFormat;

/** The {@code qemu-img} operations drivers use. */
public final class QemuImg {
    private QemuImg() {
    }

    /** A new image; an empty thin qcow2 file is written in-process ({@link EmptyQcow2}), the rest by {@code qemu-img create}. */
    public static void create(Path file, VolumeFormat format, long virtualSize, boolean preallocate) throws DriverException {
        if (format == VolumeFormat.QCOW2 && !preallocate && EmptyQcow2.canWrite(virtualSize)
                && (Files.isRegularFile(file) || !Files.exists(file))) { // a file, not a device
            try {
                EmptyQcow2.write(file, virtualSize);
                return;
            } catch (IOException e) {
                throw VolumeFiles.ioError("cannot write qcow2 image " + file, e);
            }
        }
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "create", "-q", "-f", format.name().toLowerCase(Locale.ROOT)));
        if (preallocate) {
            cmd.add("-o");
            cmd.add("preallocation=falloc");
        }
        cmd.add(file.toString());
        cmd.add(Long.toString(virtualSize));
        Processes.run(cmd);
    }

    /** Grows the image to show {@code virtualSize} bytes; with {@code preallocate}, the new space is allocated too. */
    public static void resize(Path file, VolumeFormat format, long virtualSize, boolean preallocate) throws DriverException {
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "resize", "-q", "-f", format.name().toLowerCase(Locale.ROOT)));
        if (preallocate) {
            cmd.add("--preallocation=falloc");
        }
        cmd.add(file.toString());
        cmd.add(Long.toString(virtualSize));
        Processes.run(cmd);
    }

    /** The size the image shows its guest; read with force-share, since a guest may hold it open. */
    public static long virtualSize(Path image, VolumeFormat format) throws DriverException {
        String json = Processes.run(List.of("qemu-img", "info", "-U", "-f", format.name().toLowerCase(Locale.ROOT), "--output=json",
                image.toString()));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"virtual-size\"\\s*:\\s*(\\d+)").matcher(json);
        if (!m.find()) {
            throw new DriverException(DriverException.Code.IO_ERROR, "unexpected qemu-img info output for " + image + ": " + json);
        }
        return Long.parseLong(m.group(1));
    }

    /** A qcow2 overlay whose backing file is {@code backingName}, resolved relative to the overlay's directory. */
    public static void createOverlay(Path overlay, String backingName, VolumeFormat backingFormat, long virtualSize) throws DriverException {
        Processes.run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-b", backingName,
                "-F", backingFormat.name().toLowerCase(Locale.ROOT), overlay.toString(), Long.toString(virtualSize)));
    }

    /**
     * An overlay whose backing file is not opened to check it: for a layer made on storage where
     * the layer below may not be readable here (an LV active only on the host of its guest).
     */
    public static void createOverlayUnverified(Path overlay, String backingName, VolumeFormat backingFormat, long virtualSize)
            throws DriverException {
        Processes.run(List.of("qemu-img", "create", "-q", "-u", "-f", "qcow2", "-b", backingName,
                "-F", backingFormat.name().toLowerCase(Locale.ROOT), overlay.toString(), Long.toString(virtualSize)));
    }

    /**
     * Points a qcow2 image at another backing file, null for none. Safe mode: data that differs
     * between the old and the new backing is copied into the image first, so what it shows is
     * unchanged; this is how a layer is merged into the one above it offline.
     */
    public static void rebase(Path image, String backingName) throws DriverException {
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "rebase", "-q", "-f", "qcow2", "-b", backingName == null ? "" : backingName));
        if (backingName != null) {
            cmd.addAll(List.of("-F", "qcow2"));
        }
        cmd.add(image.toString());
        Processes.run(cmd);
    }

    /** Rewrites only the backing file name in the header: for layers moved next to a new parent. */
    public static void rebaseUnsafe(Path image, String backingName) throws DriverException {
        Processes.run(List.of("qemu-img", "rebase", "-q", "-u", "-f", "qcow2", "-b", backingName, "-F", "qcow2", image.toString()));
    }

    /**
     * Writes the image, with everything its backing chain shows, as one standalone qcow2 file.
     * Opened with force-share: the layers read are frozen, though a guest may hold them open.
     */
    public static void flatten(Path image, Path target) throws DriverException {
        Processes.run(List.of("qemu-img", "convert", "-U", "-O", "qcow2", image.toString(), target.toString()));
    }

    /**
     * Where a qcow2 image's data ends: every cluster it uses lies below. On a block device the
     * image is followed by whatever the rest of the device holds; copying up to here copies the
     * image whole. Empty when {@code qemu-img check} finds errors or leaks (then copy it all).
     */
    public static java.util.OptionalLong imageEndOffset(Path image) {
        try {
            String json = Processes.run(List.of("qemu-img", "check", "-U", "--output=json", "-f", "qcow2", image.toString()));
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"image-end-offset\"\\s*:\\s*(\\d+)").matcher(json);
            return m.find() ? java.util.OptionalLong.of(Long.parseLong(m.group(1))) : java.util.OptionalLong.empty();
        } catch (DriverException e) {
            return java.util.OptionalLong.empty();
        }
    }

    /** The backing file the image's header names, resolved to a path, or null. */
    public static Path backingFile(Path image) throws DriverException {
        String json = Processes.run(List.of("qemu-img", "info", "-U", "--output=json", image.toString()));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"full-backing-filename\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        return m.find() ? image.resolveSibling(m.group(1)).normalize() : null;
    }

    /** Bytes a fully allocated qcow2 image of this virtual size needs: data plus metadata. */
    public static long qcow2FullSize(long virtualSize) throws DriverException {
        // Extends ask for every volume's ceiling; a qemu-img process each time would dominate them.
        Long known = FULL_SIZES.get(virtualSize);
        if (known != null) {
            return known;
        }
        long measured = measureFullSize(virtualSize);
        FULL_SIZES.put(virtualSize, measured);
        return measured;
    }

    private static final java.util.Map<Long, Long> FULL_SIZES = new java.util.concurrent.ConcurrentHashMap<>();

    private static long measureFullSize(long virtualSize) throws DriverException {
        String json = Processes.run(List.of("qemu-img", "measure", "--output=json", "--size", Long.toString(virtualSize), "-O", "qcow2"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"fully-allocated\"\\s*:\\s*(\\d+)").matcher(json);
        if (!m.find()) {
            throw new DriverException(DriverException.Code.IO_ERROR, "unexpected qemu-img measure output: " + json);
        }
        return Long.parseLong(m.group(1));
    }
}
