package io.storagebus.manager.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The REST API's certificate and key: a PKCS#12 keystore, with its password in a file of its
 * own so that neither configuration files nor logs hold it.
 */
public record TlsKeyStore(Path keystore, String password) {
    public static TlsKeyStore of(Path keystore, Path passwordFile) throws IOException {
        List<String> lines = Files.readAllLines(passwordFile, StandardCharsets.UTF_8);
        if (lines.isEmpty() || lines.get(0).strip().isEmpty()) {
            throw new IllegalArgumentException(passwordFile + " holds no password on its first line");
        }
        if (!Files.isReadable(keystore)) {
            throw new IllegalArgumentException("cannot read the TLS keystore " + keystore);
        }
        return new TlsKeyStore(keystore, lines.get(0).strip());
    }

    @Override
    public String toString() {
        return "TlsKeyStore[" + keystore + ", password ******]";
    }
}
