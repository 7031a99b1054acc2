package io.storagebus.driver.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.support.Processes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The long-lived lvm shell and its configuration, against real lvm2 on a VG over a loop device. */
class LvmShellTest {
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path scratch;

    @Test
    void aWordTheShellCannotSplitRunsAsAProcess() {
        assertEquals(Optional.of("lvs -o lv_name,lv_size vg/lv"), LvmShell.line(List.of("lvs", "-o", "lv_name,lv_size", "vg/lv")));
        assertEquals(Optional.of("lvs -S \"lv_name=a || lv_name=b\" vg"), LvmShell.line(List.of("lvs", "-S", "lv_name=a || lv_name=b", "vg")));
        assertEquals(Optional.of("lvs -S 'lv_tags=\"x\"' \"\" \"#not a comment\""),
                LvmShell.line(List.of("lvs", "-S", "lv_tags=\"x\"", "", "#not a comment")));
        assertEquals(Optional.empty(), LvmShell.line(List.of("lvs", "a'b\"c")), "both quotes: lvm2's shell has no escapes");
        assertEquals(Optional.empty(), LvmShell.line(List.of("lvs", "two\nlines")));
        List<String> long64 = new ArrayList<>(List.of("lvchange", "--refresh"));
        for (int i = 0; i < LvmShell.MAX_WORDS; i++) {
            long64.add("vg/lv" + i);
        }
        assertEquals(Optional.empty(), LvmShell.line(long64), "lvm2's shell splits a line into at most 64 words");
    }

    @Test
    void theDriversConfigurationIsTheHostsWithMachineReadableAnswersAndSyncIo() throws Exception {
        Path host = Files.createDirectories(scratch.resolve("host"));
        Files.createDirectories(host.resolve("backup"));
        Files.writeString(host.resolve("lvm.conf"), "devices {\n\tscan = [ \"/dev\" ]\n}\n");
        Path dir = LvmConfig.make(host, Files.createDirectories(scratch.resolve("own")));
        String conf = Files.readString(dir.resolve("lvm.conf"));
        assertTrue(conf.startsWith("devices {"), conf);
        assertTrue(conf.contains(LvmConfig.MACHINE_READABLE) && conf.contains(LvmConfig.SYNC_IO), conf);
        assertTrue(Files.isSymbolicLink(dir.resolve("backup")), "lvm2 finds backups relative to its system directory");
        assertEquals(host.resolve("backup").toAbsolutePath(), Files.readSymbolicLink(dir.resolve("backup")));

        Files.writeString(host.resolve("lvmlocal.conf"), "global {\n  use_aio = 1\n}\n");
        Path chosen = LvmConfig.make(host, Files.createDirectories(scratch.resolve("chosen")));
        String keptConf = Files.readString(chosen.resolve("lvm.conf"));
        assertTrue(keptConf.contains(LvmConfig.MACHINE_READABLE) && !keptConf.contains(LvmConfig.SYNC_IO), "the host chose its I/O: " + keptConf);
        assertTrue(Files.isSymbolicLink(chosen.resolve("lvmlocal.conf")));
    }

    @Test
    void lvm2ReadsTheDriversConfiguration() throws Exception {
        TestVolumeGroup.assumeLvm();
        Path dir = LvmConfig.systemDir();
        String out = Processes.run(List.of("lvmconfig", "--driverloaded", "n", "global/use_aio", "report/output_format", "log/report_command_log"),
                java.util.Map.of("LVM_SYSTEM_DIR", dir.toString(), "LVM_SUPPRESS_FD_WARNINGS", "1"));
        assertTrue(out.contains("output_format=\"json\"") && out.contains("report_command_log=1"), out);
        if (!Files.readString(Path.of("/etc/lvm/lvm.conf")).matches("(?s).*\\n\\s*use_aio\\s*=.*")) {
            assertTrue(out.contains("use_aio=0"), out);
        }
    }

    @Test
    void eachCommandAnswersWithItsOwnDocumentAndAFailureLeavesTheShellServing() throws Exception {
        TestVolumeGroup.assumeLvm();
        try (TestVolumeGroup vg = TestVolumeGroup.create(scratch, "sbs" + Long.toHexString(System.nanoTime()).substring(0, 8), 64 * MIB);
                LvmShell shell = LvmShell.start(LvmConfig.systemDir(), Duration.ofMinutes(1))) {
            String dm = TestVolumeGroup.DEVICE_MAPPER ? "" : "--driverloaded n ";
            shell.run("lvcreate", "lvcreate " + dm + "-an -Zn -Wn -n a -L 8m --addtag sb_x=1 " + vg.name).orThrow();
            var rows = LvmAnswer.rows(shell.run("lvs", "lvs " + dm + "--units b --nosuffix -o lv_name,lv_size,lv_tags " + vg.name).orThrow(), "lv");
            assertEquals(1, rows.size(), rows.toString());
            assertEquals("8388608", rows.get(0).path("lv_size").asText());
            assertEquals("sb_x=1", rows.get(0).path("lv_tags").asText());

            DriverException noSpace = assertThrows(DriverException.class,
                    () -> shell.run("lvextend", "lvextend " + dm + "-L 1g " + vg.name + "/a").orThrow());
            assertEquals(DriverException.Code.NO_SPACE, noSpace.code(), noSpace.getMessage());
            assertTrue(noSpace.getMessage().startsWith("lvextend failed (exit 5): Insufficient free space"), noSpace.getMessage());
            DriverException missing = assertThrows(DriverException.class,
                    () -> shell.run("lvs", "lvs " + dm + vg.name + "/nope").orThrow());
            assertTrue(missing.getMessage().contains("Failed to find logical volume"), missing.getMessage());
            DriverException badOption = assertThrows(DriverException.class, () -> shell.run("lvs", "lvs --no-such-option").orThrow());
            assertEquals(DriverException.Code.IO_ERROR, badOption.code());
            assertTrue(badOption.getMessage().contains("unrecognized option"), "lvm2 says this on standard error only: " + badOption.getMessage());

            // Another process changes the VG between two commands: the shell keeps no stale view of it.
            TestVolumeGroup.lvm("lvcreate", "-q", "-an", "-Zn", "-Wn", "-n", "b", "-L", "4m", vg.name);
            shell.run("lvextend", "lvextend " + dm + "-L 12m " + vg.name + "/a").orThrow();
            var after = LvmAnswer.rows(shell.run("lvs", "lvs " + dm + "--units b --nosuffix -o lv_name,lv_size " + vg.name).orThrow(), "lv");
            assertEquals(Set.of("a=12582912", "b=4194304"),
                    after.stream().map(r -> r.path("lv_name").asText() + "=" + r.path("lv_size").asText()).collect(Collectors.toSet()));
            assertEquals(12 * MIB, vg.lvSize("a"));
            assertTrue(shell.usable());
        }
    }

    @Test
    void aCommandThatTakesTooLongFailsAndItsShellIsNotUsedAgain() throws Exception {
        TestVolumeGroup.assumeLvm();
        try (LvmShell shell = LvmShell.start(LvmConfig.systemDir(), Duration.ofMillis(1))) {
            DriverException late = assertThrows(DriverException.class, () -> shell.run("vgs", "vgs --driverloaded n"));
            assertEquals(DriverException.Code.IO_ERROR, late.code());
            assertTrue(late.getMessage().contains("timed out"), late.getMessage());
            assertFalse(shell.usable());
        }
    }

    @Test
    void aShellKilledBetweenCommandsIsReplaced() throws Exception {
        TestVolumeGroup.assumeLvm();
        try (LvmShells shells = new LvmShells(LvmConfig.systemDir(), 1, Duration.ofMinutes(1))) {
            Set<Long> before = lvmChildren();
            shells.run("vgs", "vgs --driverloaded n").orThrow();
            Set<Long> started = lvmChildren();
            started.removeAll(before);
            assertEquals(1, started.size(), "one shell started: " + started);
            ProcessHandle shell = ProcessHandle.of(started.iterator().next()).orElseThrow();
            shell.destroyForcibly();
            shell.onExit().get();

            shells.run("vgs", "vgs --driverloaded n").orThrow();
            Set<Long> now = lvmChildren();
            now.removeAll(before);
            assertEquals(1, now.size(), "the dead shell was replaced by one: " + now);
            assertFalse(now.contains(shell.pid()));
        }
    }

    private static Set<Long> lvmChildren() {
        return ProcessHandle.current().children().filter(p -> p.info().command().map(c -> c.endsWith("/lvm")).orElse(false))
                .map(ProcessHandle::pid).collect(Collectors.toCollection(java.util.HashSet::new));
    }
}
