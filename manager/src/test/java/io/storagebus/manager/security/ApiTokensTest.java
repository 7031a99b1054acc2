package io.storagebus.manager.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiTokensTest {
    @TempDir
    Path dir;

    @Test
    void aTokenIsKnownByItsHashAloneAndNamesItsRole() throws Exception {
        String admin = ApiTokens.generate();
        String viewer = ApiTokens.generate();
        Path file = Files.writeString(dir.resolve("tokens"), "# comment\n\n" + ApiTokens.line("alice", Role.ADMIN, admin) + "\n"
                + ApiTokens.line("monitoring", Role.VIEWER, viewer) + "\n");
        ApiTokens tokens = ApiTokens.load(file);

        assertEquals(Optional.of(new ApiTokens.Principal("alice", Role.ADMIN)), tokens.authenticate(admin));
        assertEquals(Role.VIEWER, tokens.authenticate(viewer).orElseThrow().role());
        assertFalse(Files.readString(file).contains(admin), "the file holds hashes, never tokens");
        assertTrue(tokens.authenticate(admin + "x").isEmpty());
        assertTrue(tokens.authenticate("Bearer " + admin).isEmpty());
        assertTrue(tokens.authenticate(null).isEmpty());
        assertTrue(tokens.authenticate("sb_" + "a".repeat(500)).isEmpty());
    }

    @Test
    void tokensAreLongRandomAndDistinct() {
        String a = ApiTokens.generate();
        assertTrue(a.startsWith("sb_") && a.length() == 3 + 43, a);
        assertNotEquals(a, ApiTokens.generate());
    }

    @Test
    void aMalformedFileIsRefusedNamingTheLineNeverSkipped() throws Exception {
        String token = ApiTokens.generate();
        assertRefused("alice admin\n", ":1: expected 'name role sha256'");
        assertRefused("alice root " + ApiTokens.hash(token) + "\n", ":1: unknown role 'root'");
        assertRefused("# ok\nalice admin " + token + "\n", ":2: the third field must be the token's SHA-256");
        assertRefused("../x admin " + ApiTokens.hash(token) + "\n", ":1: invalid token name");
        assertRefused(ApiTokens.line("a", Role.ADMIN, token) + "\n" + ApiTokens.line("b", Role.VIEWER, token) + "\n", ":2: the same token is listed twice");
    }

    @Test
    void rolesIncludeTheOnesBelow() {
        assertTrue(Role.ADMIN.allows(Role.OPERATOR) && Role.OPERATOR.allows(Role.VIEWER) && Role.VIEWER.allows(Role.VIEWER));
        assertFalse(Role.VIEWER.allows(Role.OPERATOR) || Role.OPERATOR.allows(Role.ADMIN));
    }

    private void assertRefused(String content, String expected) throws Exception {
        Path file = Files.writeString(dir.resolve("bad-" + content.hashCode()), content);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ApiTokens.load(file));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
