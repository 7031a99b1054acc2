package io.storagebus.manager.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code manager.api-tokens-file} as it is now: before each authentication the file's modification
 * time and size are compared with what was loaded (one {@code stat}, no thread, no polling), and a
 * changed file is read again, so a token removed from it stops working with the next request. A
 * file that no longer reads (half written, a bad line, gone) leaves the last good tokens in force
 * and says why at ERROR, since neither locking everyone out nor letting anyone in would be right.
 */
public final class TokensFile {
    private static final Logger LOG = LoggerFactory.getLogger(TokensFile.class);

    private record Loaded(ApiTokens tokens, FileTime modified, long size) {
    }

    private final Path file;
    private volatile Loaded loaded;
    /** Said once until the file is back: a missing file is not reported at every request. */
    private volatile boolean missingReported;

    private TokensFile(Path file, Loaded loaded) {
        this.file = file;
        this.loaded = loaded;
    }

    /** Reads the file; at start a file that does not read is an error, not a manager without tokens. */
    public static TokensFile load(Path file) throws IOException {
        BasicFileAttributes stamp = Files.readAttributes(file, BasicFileAttributes.class);
        return new TokensFile(file, new Loaded(ApiTokens.load(file), stamp.lastModifiedTime(), stamp.size()));
    }

    public Optional<ApiTokens.Principal> authenticate(String token) {
        return current().authenticate(token);
    }

    public int size() {
        return current().size();
    }

    private ApiTokens current() {
        Loaded now = loaded;
        BasicFileAttributes stamp;
        try {
            stamp = Files.readAttributes(file, BasicFileAttributes.class);
            missingReported = false;
        } catch (IOException e) {
            if (!missingReported) {
                missingReported = true;
                LOG.error("REST API tokens file {} cannot be read, the tokens loaded before stay in force: {}", file, e.toString());
            }
            return now.tokens();
        }
        if (stamp.lastModifiedTime().equals(now.modified()) && stamp.size() == now.size()) {
            return now.tokens();
        }
        synchronized (this) {
            if (loaded == now) {
                try {
                    loaded = new Loaded(ApiTokens.load(file), stamp.lastModifiedTime(), stamp.size());
                    LOG.info("REST API tokens reloaded from {}: {} known", file, loaded.tokens().size());
                } catch (IOException | RuntimeException e) {
                    // Remembered as seen, so this version of the file is not read again at every request.
                    loaded = new Loaded(now.tokens(), stamp.lastModifiedTime(), stamp.size());
                    LOG.error("REST API tokens file {} was changed but cannot be used, the tokens loaded before stay in force: {}",
                            file, e.getMessage());
                }
            }
            return loaded.tokens();
        }
    }
}
