package io.storagebus.worker.watchdog;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** Finds a guest's QEMU process: QMP does not say its pid, but its command line names its QMP socket. */
public final class GuestProcess {
    private GuestProcess() {
    }

    /** The process (other than this one) whose command line names the socket. */
    public static Optional<ProcessHandle> serving(Path qmpSocket) {
        String path = qmpSocket.toAbsolutePath().toString();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
                    .filter(p -> commandLine(p).stream().anyMatch(arg -> arg.contains(path)))
                    .map(p -> ProcessHandle.of(Long.parseLong(p.getFileName().toString())))
                    .flatMap(Optional::stream).filter(h -> h.pid() != ProcessHandle.current().pid()).findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static List<String> commandLine(Path proc) {
        try {
            return List.of(new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8).split("\0"));
        } catch (IOException | RuntimeException e) {
            return List.of(); // gone meanwhile, or not ours to read
        }
    }
}
