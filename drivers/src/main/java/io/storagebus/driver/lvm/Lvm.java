package io.storagebus.driver.lvm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.support.Processes;

/**
 * The lvm2 commands the driver runs. Where device-mapper is missing (containers, CI), every
 * command gets {@code --driverloaded n}: metadata operations work, activation does not.
 */
final class Lvm {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, String> ENV = Map.of("LVM_SUPPRESS_FD_WARNINGS", "1");

    /** One logical volume as {@code lvs} reports it. */
    record Lv(String name, long size, List<String> tags, boolean active) {
        String tag(String prefix) {
            return tags.stream().filter(t -> t.startsWith(prefix)).map(t -> t.substring(prefix.length())).findFirst().orElse(null);
        }
    }

    private final boolean deviceMapper;
    private final Map<String, Long> extentSizes = new ConcurrentHashMap<>();

    Lvm(boolean deviceMapper) {
        this.deviceMapper = deviceMapper;
    }

    /**
     * Whether the kernel has device-mapper: it registers the misc device {@code device-mapper}.
     * Not whether {@code /dev/mapper/control} exists: libdevmapper makes that node whenever an
     * lvm2 command runs without {@code --driverloaded n}, driver or not.
     */
    static boolean deviceMapperPresent() {
        try {
            return Files.readAllLines(Path.of("/proc/misc")).stream().anyMatch(line -> line.trim().endsWith(" device-mapper"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    boolean canActivate() {
        return deviceMapper;
    }

    String run(String command, String... args) throws DriverException {
        List<String> cmd = new ArrayList<>();
        cmd.add(command);
        if (!deviceMapper) {
            cmd.add("--driverloaded");
            cmd.add("n");
        }
        cmd.addAll(List.of(args));
        return Processes.run(cmd, ENV);
    }

    boolean vgExists(String vg) {
        try {
            run("vgs", "--noheadings", "-o", "vg_name", vg);
            return true;
        } catch (DriverException e) {
            return false;
        }
    }

    /**
     * The VG's extent size, asked once per VG: it is set by {@code vgcreate} and practically never
     * changed. Were it changed, extents are powers of two and lvm2 rounds every size up to its
     * own extent, so a stale value only makes a size we compute a little smaller than the LV's.
     */
    long extentSize(String vg) throws DriverException {
        Long known = extentSizes.get(vg);
        if (known != null) {
            return known;
        }
        long size = Long.parseLong(run("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_extent_size", vg).trim());
        extentSizes.put(vg, size);
        return size;
    }

    long freeBytes(String vg) throws DriverException {
        return Long.parseLong(run("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_free", vg).trim());
    }

    long sizeBytes(String vg) throws DriverException {
        return Long.parseLong(run("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_size", vg).trim());
    }

    List<Lv> list(String vg) throws DriverException {
        return lvs(vg);
    }

    /**
     * The volume's head (live or delinked) with its layers, selected by lvm2 itself, so the
     * answer is a few lines however many LVs the VG holds: up to two chains, a live and a
     * delinked one.
     */
    List<LvChain> chains(String vg, String volumeId) throws DriverException {
        return LvChain.of(vg, lvs("-S", LvChain.selection(volumeId), vg));
    }

    private List<Lv> lvs(String... selection) throws DriverException {
        List<String> args = new ArrayList<>(List.of("--reportformat", "json", "--units", "b", "--nosuffix", "-o", "lv_name,lv_size,lv_tags,lv_attr"));
        args.addAll(List.of(selection));
        String out = run("lvs", args.toArray(String[]::new));
        List<Lv> lvs = new ArrayList<>();
        try {
            for (JsonNode report : JSON.readTree(out).path("report")) {
                for (JsonNode lv : report.path("lv")) {
                    String tags = lv.path("lv_tags").asText("");
                    String attr = lv.path("lv_attr").asText("");
                    lvs.add(new Lv(lv.path("lv_name").asText(), Long.parseLong(lv.path("lv_size").asText("0")),
                            tags.isEmpty() ? List.of() : List.of(tags.split(",")),
                            attr.length() > 4 && attr.charAt(4) == 'a'));
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "unexpected lvs output: " + e.getMessage(), e);
        }
        return lvs;
    }

    /** What the fence reads of a VG: the epochs in its {@code sb_epoch=N} tags, and whether lvm2 would autoactivate it. */
    record FenceTags(List<Long> epochs, boolean autoactivation) {
        long highest() {
            return epochs.stream().mapToLong(Long::longValue).max().orElse(0);
        }
    }

    FenceTags fenceTags(String vg) throws DriverException {
        String[] fields = run("vgs", "--noheadings", "--separator", "|", "-o", "vg_tags,vg_autoactivation", vg).trim().split("\\|", -1);
        String tags = fields[0].trim();
        List<Long> epochs = new ArrayList<>();
        for (String tag : tags.isEmpty() ? new String[0] : tags.split(",")) {
            if (tag.startsWith("sb_epoch=")) {
                try {
                    epochs.add(Long.parseUnsignedLong(tag.substring("sb_epoch=".length())));
                } catch (NumberFormatException e) {
                    throw new DriverException(DriverException.Code.IO_ERROR, "volume group " + vg + " has a fencing tag that is not an epoch: " + tag);
                }
            }
        }
        return new FenceTags(epochs, fields.length > 1 && fields[1].trim().equals("enabled"));
    }
}
