package io.storagebus.leases;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * A host's exclusive right to use a volume. Each new lease of a volume has a higher epoch, so
 * whatever a host does under an old lease can be told apart from what the next holder does.
 */
public record VolumeLease(String volumeId, String hostId, long epoch, Instant since) {

    byte[] toBytes() {
        return (hostId + "\n" + epoch + "\n" + since.toEpochMilli()).getBytes(StandardCharsets.UTF_8);
    }

    static VolumeLease fromBytes(String volumeId, byte[] data) {
        String[] lines = new String(data, StandardCharsets.UTF_8).split("\n");
        if (lines.length != 3) {
            throw new IllegalArgumentException("malformed lease node of volume " + volumeId);
        }
        return new VolumeLease(volumeId, lines[0], Long.parseLong(lines[1]), Instant.ofEpochMilli(Long.parseLong(lines[2])));
    }
}
