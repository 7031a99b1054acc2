package io.storagebus.bus;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A password kept in a file of its own (first line), so it is in no configuration file, command line or environment. */
public final class SecretFile {
    private SecretFile() {
    }

    public static String read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty() || lines.get(0).strip().isEmpty()) {
            throw new IllegalArgumentException(file + " holds no password on its first line");
        }
        return lines.get(0).strip();
    }
}
