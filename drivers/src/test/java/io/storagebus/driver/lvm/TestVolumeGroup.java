package io.storagebus.driver.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.driver.Tools;

/**
 * A volume group on a fresh sparse loop-device PV, as a SAN's shared LUN would hold one; gone
 * with its PV and loop device when closed. Without device-mapper every lvm2 command gets
 * {@code --driverloaded n}, as the driver's own do.
 */
final class TestVolumeGroup implements AutoCloseable {
    static final boolean DEVICE_MAPPER = Lvm.deviceMapperPresent();

    final String name;
    private final String loop;

    private TestVolumeGroup(String name, String loop) {
        this.name = name;
        this.loop = loop;
    }

    /** Skips the test where lvm2 cannot work on loop devices: not root, no loop devices or no lvm2. */
    static void assumeLvm() {
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name"))
                && java.nio.file.Files.exists(Path.of("/dev/loop-control"))
                && (java.nio.file.Files.isExecutable(Path.of("/usr/sbin/lvcreate")) || java.nio.file.Files.isExecutable(Path.of("/sbin/lvcreate"))),
                "skipped: needs root, loop devices and lvm2");
    }

    static TestVolumeGroup create(Path dir, String name, long size) throws Exception {
        Path image = dir.resolve(name + ".img");
        try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
            raf.setLength(size);
        }
        String loop = Tools.output("losetup", "--find", "--show", image.toString()).trim();
        lvm("pvcreate", "-q", loop);
        lvm("vgcreate", "-q", name, loop);
        return new TestVolumeGroup(name, loop);
    }

    static String lvm(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(args[0]));
        if (!DEVICE_MAPPER) {
            cmd.addAll(List.of("--driverloaded", "n"));
        }
        cmd.addAll(List.of(args).subList(1, args.length));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("LVM_SUPPRESS_FD_WARNINGS", "1");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + err);
        return out;
    }

    /** An LV's size in bytes. */
    long lvSize(String lv) throws Exception {
        return Long.parseLong(lvm("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size", name + "/" + lv).trim());
    }

    /** The VG's LVs by name, sorted. */
    List<String> lvNames() throws Exception {
        return lvm("lvs", "--noheadings", "-o", "lv_name", name).lines().map(String::trim).filter(l -> !l.isEmpty()).sorted().toList();
    }

    @Override
    public void close() throws Exception {
        lvm("vgremove", "-f", "-q", name);
        lvm("pvremove", "-q", loop);
        Tools.output("losetup", "-d", loop);
    }
}
