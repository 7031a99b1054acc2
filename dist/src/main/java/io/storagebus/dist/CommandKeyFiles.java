package io.storagebus.dist;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;

import io.storagebus.bus.CommandSigner;

/**
 * The files of a command-signing key pair, as {@code storagebus command-keys create} and the dev
 * stack write them: {@code commands.key} (the managers' private key, readable by its owner only)
 * and {@code commands.pub} (the workers' trusted key), both PEM.
 */
public final class CommandKeyFiles {
    public static final String PRIVATE_FILE = "commands.key";
    public static final String PUBLIC_FILE = "commands.pub";

    private CommandKeyFiles() {
    }

    /** A new pair in {@code dir}, which is created if missing; a private key already there is an error, never overwritten. */
    public static void create(Path dir) throws IOException {
        Files.createDirectories(dir);
        KeyPair pair = CommandSigner.generate();
        Path privateKey = dir.resolve(PRIVATE_FILE);
        Files.createFile(privateKey, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(privateKey, CommandSigner.privatePem(pair.getPrivate()));
        Files.writeString(dir.resolve(PUBLIC_FILE), CommandSigner.publicPem(pair.getPublic()));
    }
}
