package io.storagebus.manager.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import io.storagebus.bus.SecretFile;

/**
 * The REST API's certificate and key: a PKCS#12 keystore, with its password in a file of its
 * own so that neither configuration files nor logs hold it.
 */
public record TlsKeyStore(Path keystore, String password) {
    public static TlsKeyStore of(Path keystore, Path passwordFile) throws IOException {
        String password = SecretFile.read(passwordFile);
        if (!Files.isReadable(keystore)) {
            throw new IllegalArgumentException("cannot read the TLS keystore " + keystore);
        }
        return new TlsKeyStore(keystore, password);
    }

    @Override
    public String toString() {
        return "TlsKeyStore[" + keystore + ", password ******]";
    }
}
