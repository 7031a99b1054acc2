package io.storagebus.leases;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * One SPM term of a pool: which host holds the role, with which fencing epoch, since when.
 * Epochs strictly increase across terms of a pool; a write stamped with an older epoch than the
 * storage has seen comes from a deposed SPM and must be refused.
 */
public record SpmTerm(String pool, String hostId, long epoch, Instant since) {

    /** Stored in the holder znode as three lines, readable with {@code zkCli get}. */
    byte[] toBytes() {
        return (hostId + "\n" + epoch + "\n" + since.toEpochMilli()).getBytes(StandardCharsets.UTF_8);
    }

    static SpmTerm fromBytes(String pool, byte[] data) {
        String[] lines = new String(data, StandardCharsets.UTF_8).split("\n");
        if (lines.length != 3) {
            throw new IllegalArgumentException("malformed SPM holder node of pool " + pool);
        }
        return new SpmTerm(pool, lines[0], Long.parseLong(lines[1]), Instant.ofEpochMilli(Long.parseLong(lines[2])));
    }
}
