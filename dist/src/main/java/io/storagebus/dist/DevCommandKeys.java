package io.storagebus.dist;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.CommandVerifier;

/**
 * The key pair that signs the dev stack's commands, kept in its data directory as
 * {@code storagebus command-keys create} would write it: made at the first start and read again
 * at every later one, so that a command published before a stop and carried out after the next
 * start (still on its topic, say) is checked against the key that signed it.
 */
record DevCommandKeys(CommandSigner signer, CommandVerifier verifier) {
    /** The pair in {@code dataDir}, made there if there is none yet (half a pair, left by a crash while writing it, is made again). */
    static DevCommandKeys in(Path dataDir) throws IOException {
        Path privateKey = dataDir.resolve(CommandKeyFiles.PRIVATE_FILE);
        Path publicKey = dataDir.resolve(CommandKeyFiles.PUBLIC_FILE);
        if (!Files.exists(privateKey) || !Files.exists(publicKey)) {
            Files.deleteIfExists(privateKey);
            CommandKeyFiles.create(dataDir);
        }
        return new DevCommandKeys(CommandSigner.fromPem(privateKey), CommandVerifier.fromPem(publicKey));
    }
}
