package io.storagebus.manager.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A token taken out of the file stops working with the next request; a broken file locks nobody out and lets nobody in. */
class TokensFileTest {
    @TempDir
    Path dir;
    private long tick = Instant.parse("2026-01-01T00:00:00Z").toEpochMilli();

    private void write(Path file, String text) throws Exception {
        Files.writeString(file, text);
        Files.setLastModifiedTime(file, FileTime.fromMillis(tick += 1000));
    }

    @Test
    void changesTakeEffectAtTheNextAuthentication() throws Exception {
        String alice = ApiTokens.generate();
        String bob = ApiTokens.generate();
        Path file = dir.resolve("api-tokens");
        write(file, ApiTokens.line("alice", Role.ADMIN, alice) + "\n" + ApiTokens.line("bob", Role.VIEWER, bob) + "\n");
        TokensFile tokens = TokensFile.load(file);
        assertEquals(Optional.of(new ApiTokens.Principal("bob", Role.VIEWER)), tokens.authenticate(bob));

        write(file, ApiTokens.line("alice", Role.ADMIN, alice) + "\n");
        assertEquals(Optional.empty(), tokens.authenticate(bob), "a removed line stops working at once");
        assertTrue(tokens.authenticate(alice).isPresent());

        write(file, ApiTokens.line("alice", Role.ADMIN, alice) + "\nbob viewer " + bob + "\n");
        assertTrue(tokens.authenticate(alice).isPresent(), "a file with a bad line keeps the tokens loaded before");
        assertEquals(Optional.empty(), tokens.authenticate(bob), "and takes nothing from the bad file");

        Files.delete(file);
        assertTrue(tokens.authenticate(alice).isPresent(), "a file gone keeps the tokens loaded before");
        write(file, ApiTokens.line("bob", Role.OPERATOR, bob) + "\n");
        assertEquals(Optional.of(new ApiTokens.Principal("bob", Role.OPERATOR)), tokens.authenticate(bob));
        assertEquals(Optional.empty(), tokens.authenticate(alice));
    }
}
