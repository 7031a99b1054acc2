package io.storagebus.manager.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The REST API's bearer tokens, as an operator keeps them: a file of {@code name role sha256}
 * lines ({@code #} starts a comment). Only hashes are stored: a token is 32 random bytes, so a
 * plain SHA-256 is as hard to reverse as the token is to guess, and a leaked file opens nothing.
 */
public final class ApiTokens {
    /** Who a token belongs to. */
    public record Principal(String name, Role role) {
    }

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}");
    private static final Pattern HASH = Pattern.compile("[0-9a-f]{64}");
    private static final String PREFIX = "sb_";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Map<String, Principal> byHash;

    private ApiTokens(Map<String, Principal> byHash) {
        this.byHash = Map.copyOf(byHash);
    }

    /** Reads a tokens file; a malformed line is an error naming the line, never skipped. */
    public static ApiTokens load(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        Map<String, Principal> byHash = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.split("\\s+");
            String where = file + ":" + (i + 1) + ": ";
            if (parts.length != 3) {
                throw new IllegalArgumentException(where + "expected 'name role sha256', got " + parts.length + " fields");
            }
            if (!NAME.matcher(parts[0]).matches()) {
                throw new IllegalArgumentException(where + "invalid token name '" + parts[0] + "': " + NAME.pattern());
            }
            Role role;
            try {
                role = Role.valueOf(parts[1].toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + "unknown role '" + parts[1] + "'; roles: admin, operator, viewer");
            }
            if (!HASH.matcher(parts[2]).matches()) {
                throw new IllegalArgumentException(where + "the third field must be the token's SHA-256 in lower-case hex "
                        + "(storagebus tokens create prints it), never the token itself");
            }
            if (byHash.putIfAbsent(parts[2], new Principal(parts[0], role)) != null) {
                throw new IllegalArgumentException(where + "the same token is listed twice");
            }
        }
        return new ApiTokens(byHash);
    }

    public static ApiTokens of(Map<String, Principal> byHash) {
        return new ApiTokens(byHash);
    }

    /** The principal a bearer token stands for, if it is one of ours. */
    public Optional<Principal> authenticate(String token) {
        return token == null || !token.startsWith(PREFIX) || token.length() > 128 ? Optional.empty() : Optional.ofNullable(byHash.get(hash(token)));
    }

    public int size() {
        return byHash.size();
    }

    /** A new token: {@code sb_} and 32 random bytes, URL-safe. */
    public static String generate() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** What the tokens file keeps of a token. */
    public static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** A tokens-file line for a token. */
    public static String line(String name, Role role, String token) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("invalid token name '" + name + "': " + NAME.pattern());
        }
        return name + " " + role.name().toLowerCase(Locale.ROOT) + " " + hash(token);
    }
}
