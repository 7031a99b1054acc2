package io.storagebus.worker.watchdog;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import io.storagebus.driver.support.VolumeFiles;

/**
 * What the worker tells the watchdog about one guest's right to write: the volume, the lease
 * epoch it writes under, the QEMU (pid and QMP socket) and the deadline until which the worker
 * has proven the lease. One file per volume, {@code <volumeId>.lease}, replaced atomically.
 */
public record LeaseRenewal(String volumeId, long leaseEpoch, long pid, String qmpSocket, long deadlineMillis) {
    static final String SUFFIX = ".lease";

    public LeaseRenewal {
        if (volumeId == null || !volumeId.matches("[A-Za-z0-9._-]{1,128}")) {
            throw new IllegalArgumentException("invalid volume id '" + volumeId + "'");
        }
        if (pid <= 0) {
            throw new IllegalArgumentException("invalid pid " + pid);
        }
        if (qmpSocket == null || qmpSocket.isBlank() || qmpSocket.contains("\n")) {
            throw new IllegalArgumentException("invalid QMP socket '" + qmpSocket + "'");
        }
    }

    String format() {
        return "volume=" + volumeId + "\nepoch=" + leaseEpoch + "\npid=" + pid + "\nqmp=" + qmpSocket + "\ndeadline=" + deadlineMillis + "\n";
    }

    /** Writes the renewal so a reader sees the old one or the new one, never half of one. */
    void writeTo(Path dir) throws IOException {
        Path tmp = dir.resolve("." + volumeId + SUFFIX + ".tmp");
        Files.writeString(tmp, format(), StandardCharsets.UTF_8);
        VolumeFiles.move(tmp, dir.resolve(volumeId + SUFFIX));
    }

    /** Reads a renewal file; anything missing or malformed is refused with what is wrong. */
    static LeaseRenewal parse(String text) {
        Map<String, String> fields = new HashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (line.isBlank()) {
                continue;
            }
            if (eq <= 0) {
                throw new IllegalArgumentException("not a key=value line: '" + line + "'");
            }
            fields.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return new LeaseRenewal(field(fields, "volume"), number(fields, "epoch"), number(fields, "pid"), field(fields, "qmp"),
                number(fields, "deadline"));
    }

    private static String field(Map<String, String> fields, String key) {
        String value = fields.get(key);
        if (value == null) {
            throw new IllegalArgumentException("no '" + key + "'");
        }
        return value;
    }

    private static long number(Map<String, String> fields, String key) {
        try {
            return Long.parseLong(field(fields, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + key + "' is not a number: '" + fields.get(key) + "'");
        }
    }
}
