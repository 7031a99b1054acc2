package io.storagebus.dist;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.CommandVerifier;

/**
 * The key pair that signs the dev stack's commands, kept in its data directory as
 * {@code storagebus command-keys create} would write it: made at the first start and read again
 * at every later one, so that a command published before a stop and carried out after the next
 * start (still on its topic, say) is checked against the key that signed it.
 */
record DevCommandKeys(CommandSigner signer, CommandVerifier verifier) {
    static final String PRIVATE_FILE = "commands.key";
    static final String PUBLIC_FILE = "commands.pub";

    /** The pair in {@code dataDir}, made there (the private half readable by its owner only) if there is none yet. */
    static DevCommandKeys in(Path dataDir) throws IOException {
        Path privateKey = dataDir.resolve(PRIVATE_FILE);
        Path publicKey = dataDir.resolve(PUBLIC_FILE);
        if (!Files.exists(privateKey) || !Files.exists(publicKey)) {
            KeyPair pair = CommandSigner.generate();
            Files.deleteIfExists(privateKey);
            Files.createFile(privateKey, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(privateKey, CommandSigner.privatePem(pair.getPrivate()));
            Files.writeString(publicKey, CommandSigner.publicPem(pair.getPublic()));
        }
        return new DevCommandKeys(CommandSigner.fromPem(privateKey), CommandVerifier.fromPem(publicKey));
    }
}
