package io.storagebus.driver.lvm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import com.fasterxml.jackson.databind.JsonNode;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.support.Processes;

/**
 * The lvm2 commands the driver runs, under the driver's own configuration ({@link LvmConfig}) and
 * by default in long-lived {@code lvm} shells ({@link LvmShells}); a command a shell line cannot
 * carry runs as its own process. Where device-mapper is missing (containers, CI), every command
 * gets {@code --driverloaded n}: metadata operations work, activation does not.
 */
final class Lvm {
    /** One logical volume as {@code lvs} reports it. */
    record Lv(String name, long size, List<String> tags, boolean active) {
        String tag(String prefix) {
            return tags.stream().filter(t -> t.startsWith(prefix)).map(t -> t.substring(prefix.length())).findFirst().orElse(null);
        }
    }

    private final boolean deviceMapper;
    private final boolean inShells;
    private final Map<String, Long> extentSizes = new ConcurrentHashMap<>();

    Lvm(boolean deviceMapper) {
        this(deviceMapper, true);
    }

    /** {@code inShells} false runs every command as its own process, as benchmarks compare. */
    Lvm(boolean deviceMapper, boolean inShells) {
        this.deviceMapper = deviceMapper;
        this.inShells = inShells;
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

    /** Runs the command and returns its answer's document (report and log); a failed command is a {@link DriverException}. */
    JsonNode run(String command, String... args) throws DriverException {
        List<String> argv = new ArrayList<>();
        argv.add(command);
        if (!deviceMapper) {
            argv.add("--driverloaded");
            argv.add("n");
        }
        argv.addAll(List.of(args));
        LvmShells shells = inShells ? LvmShells.shared() : null;
        Optional<String> line = shells == null ? Optional.empty() : LvmShell.line(argv);
        LvmAnswer answer = line.isPresent() ? shells.run(command, line.get())
                : LvmAnswer.ofProcess(command, Processes.exec(argv, Map.of("LVM_SYSTEM_DIR", LvmConfig.systemDir().toString(),
                        "LVM_SUPPRESS_FD_WARNINGS", "1")));
        return answer.orThrow();
    }

    boolean vgExists(String vg) {
        try {
            run("vgs", "-o", "vg_name", vg);
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
        long size = vgNumber(vg, "vg_extent_size");
        extentSizes.put(vg, size);
        return size;
    }

    long freeBytes(String vg) throws DriverException {
        return vgNumber(vg, "vg_free");
    }

    long sizeBytes(String vg) throws DriverException {
        return vgNumber(vg, "vg_size");
    }

    /** One VG's field, in bytes. */
    private long vgNumber(String vg, String field) throws DriverException {
        JsonNode row = vgRow(vg, field);
        try {
            return Long.parseLong(row.path(field).asText());
        } catch (NumberFormatException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "vgs reports " + field + "=" + row.path(field) + " for " + vg);
        }
    }

    private JsonNode vgRow(String vg, String fields) throws DriverException {
        List<JsonNode> rows = LvmAnswer.rows(run("vgs", "--units", "b", "--nosuffix", "-o", fields, vg), "vg");
        if (rows.size() != 1) {
            throw new DriverException(DriverException.Code.IO_ERROR, "vgs reports " + rows.size() + " volume groups named " + vg);
        }
        return rows.get(0);
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
        List<String> args = new ArrayList<>(List.of("--units", "b", "--nosuffix", "-o", "lv_name,lv_size,lv_tags,lv_attr"));
        args.addAll(List.of(selection));
        List<Lv> lvs = new ArrayList<>();
        for (JsonNode lv : LvmAnswer.rows(run("lvs", args.toArray(String[]::new)), "lv")) {
            String tags = lv.path("lv_tags").asText("");
            String attr = lv.path("lv_attr").asText("");
            try {
                lvs.add(new Lv(lv.path("lv_name").asText(), Long.parseLong(lv.path("lv_size").asText("0")),
                        tags.isEmpty() ? List.of() : List.of(tags.split(",")), attr.length() > 4 && attr.charAt(4) == 'a'));
            } catch (NumberFormatException e) {
                throw new DriverException(DriverException.Code.IO_ERROR, "lvs reports a size that is not a number: " + lv, e);
            }
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
        JsonNode row = vgRow(vg, "vg_tags,vg_autoactivation");
        String tags = row.path("vg_tags").asText("").trim();
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
        return new FenceTags(epochs, row.path("vg_autoactivation").asText().trim().equals("enabled"));
    }
}
