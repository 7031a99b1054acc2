package io.storagebus.driver.lvm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.storagebus.driver.DriverException;

/**
 * The lvm2 configuration the driver's commands run with: the host's own ({@code /etc/lvm}, or
 * {@code LVM_SYSTEM_DIR}) with a few settings added, in a private system directory that
 * {@code LVM_SYSTEM_DIR} points at. The directory holds a copy of {@code lvm.conf} with the
 * settings appended (in lvm2's config a later value wins) and a link to every other entry of the
 * host's directory, so backups, archives, the devices file and profiles stay where they are
 * (lvm2 resolves them relative to the system directory). Made once per process: a host that
 * changes its {@code lvm.conf} restarts the worker, as it would restart any daemon.
 */
final class LvmConfig {
    /**
     * Every command answers with one JSON document: its report (for {@code lvs}, {@code vgs}) and
     * the command log, whose entries carry the errors and, in the shell, the command's outcome.
     * That is what frames the answers of a long-lived {@code lvm} shell ({@link LvmShell}).
     */
    static final String MACHINE_READABLE = """
            report {
            \toutput_format = "json"
            }
            log {
            \treport_command_log = 1
            \tcommand_log_selection = "all"
            }
            """;

    /**
     * With asynchronous I/O every lvm2 command ends in {@code io_destroy}, which waits for an RCU
     * grace period: 35-40 ms of a 46 ms {@code lvs} on the development machine's kernel. Async I/O
     * pays off when a label scan reads hundreds of slow disks; a hypervisor's filter leaves lvm2
     * a few LUNs. A host whose {@code lvm.conf} sets {@code use_aio} keeps its own choice.
     */
    static final String SYNC_IO = """
            global {
            \tuse_aio = 0
            }
            """;

    private static final Pattern SETS_USE_AIO = Pattern.compile("(?m)^\\s*use_aio\\s*=");

    private static Path systemDir;

    private LvmConfig() {
    }

    /** The private system directory, made on first use. */
    static synchronized Path systemDir() throws DriverException {
        if (systemDir == null) {
            String hostDir = System.getenv("LVM_SYSTEM_DIR");
            try {
                systemDir = make(Path.of(hostDir == null || hostDir.isBlank() ? "/etc/lvm" : hostDir),
                        Files.createTempDirectory("storagebus-lvm-"));
            } catch (IOException e) {
                throw new DriverException(DriverException.Code.IO_ERROR, "cannot write the lvm2 configuration of the lvm driver: " + e.getMessage(), e);
            }
        }
        return systemDir;
    }

    /** Fills {@code dir} from the host's system directory and returns it; removed when the JVM exits. */
    static Path make(Path hostDir, Path dir) throws IOException {
        dir.toFile().deleteOnExit();
        Path hostConf = hostDir.resolve("lvm.conf");
        String conf = Files.isRegularFile(hostConf) ? Files.readString(hostConf, StandardCharsets.UTF_8) : "";
        Path hostLocal = hostDir.resolve("lvmlocal.conf");
        String local = Files.isRegularFile(hostLocal) ? Files.readString(hostLocal, StandardCharsets.UTF_8) : "";
        boolean hostChoosesAio = SETS_USE_AIO.matcher(conf).find() || SETS_USE_AIO.matcher(local).find();
        String added = "\n# Added by StorageBus's lvm driver (see LvmConfig):\n" + MACHINE_READABLE + (hostChoosesAio ? "" : SYNC_IO);
        Path ownConf = dir.resolve("lvm.conf");
        Files.writeString(ownConf, conf + added, StandardCharsets.UTF_8);
        ownConf.toFile().deleteOnExit();
        if (Files.isDirectory(hostDir)) {
            try (Stream<Path> entries = Files.list(hostDir)) {
                for (Path entry : entries.toList()) {
                    if (!entry.getFileName().toString().equals("lvm.conf")) {
                        Path link = Files.createSymbolicLink(dir.resolve(entry.getFileName().toString()), entry.toAbsolutePath());
                        link.toFile().deleteOnExit();
                    }
                }
            }
        }
        return dir;
    }
}
