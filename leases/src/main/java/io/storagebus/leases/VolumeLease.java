package io.storagebus.leases;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * A host's exclusive right to use a volume. Each new lease of a volume has a higher epoch, so
 * whatever a host does under an old lease can be told apart from what the next holder does.
 * Once the volume is usable on the host, the lease also says where ({@code path}: what a guest
 * opens there) and how much of it is allocated, so operators see it without reading events.
 *
 * @param path what a guest opens on the host; null until the volume is activated there
 * @param allocatedBytes the volume's allocation as the host last saw it; -1 until known
 * @param lastExtendedAt when the SPM last extended it while this lease was held; null if never
 */
public record VolumeLease(String volumeId, String hostId, long epoch, Instant since, String path, long allocatedBytes,
                          Instant lastExtendedAt) {
    private static final String PATH = "path=";
    private static final String ALLOCATED = "allocated=";
    private static final String EXTENDED = "extended=";

    /** A lease just taken: the volume is not usable on the host yet. */
    public VolumeLease(String volumeId, String hostId, long epoch, Instant since) {
        this(volumeId, hostId, epoch, since, null, -1, null);
    }

    /** The volume is usable on the host at {@code path}, with {@code allocatedBytes} allocated. */
    public VolumeLease usableAt(String path, long allocatedBytes) {
        if (path.contains("\n")) {
            throw new IllegalArgumentException("a volume path cannot hold a line break: " + path);
        }
        return new VolumeLease(volumeId, hostId, epoch, since, path, allocatedBytes, lastExtendedAt);
    }

    /** The SPM extended the volume to {@code allocatedBytes} and the host sees the new size. */
    public VolumeLease extendedTo(long allocatedBytes, Instant at) {
        return new VolumeLease(volumeId, hostId, epoch, since, path, allocatedBytes, at);
    }

    byte[] toBytes() {
        StringBuilder b = new StringBuilder().append(hostId).append('\n').append(epoch).append('\n').append(since.toEpochMilli());
        if (path != null) {
            b.append('\n').append(PATH).append(path);
        }
        if (allocatedBytes >= 0) {
            b.append('\n').append(ALLOCATED).append(allocatedBytes);
        }
        if (lastExtendedAt != null) {
            b.append('\n').append(EXTENDED).append(lastExtendedAt.toEpochMilli());
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Reads a lease node. Its first three lines (holder, epoch, since) decide who may use the
     * volume and must be well formed; the lines after them only describe the use, so one that
     * cannot be read is left out rather than losing the lease.
     */
    static VolumeLease fromBytes(String volumeId, byte[] data) {
        String[] lines = new String(data, StandardCharsets.UTF_8).split("\n");
        if (lines.length < 3) {
            throw new IllegalArgumentException("malformed lease node of volume " + volumeId);
        }
        long epoch;
        Instant since;
        try {
            epoch = Long.parseLong(lines[1]);
            since = Instant.ofEpochMilli(Long.parseLong(lines[2]));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("malformed lease node of volume " + volumeId + ": " + e.getMessage(), e);
        }
        String path = null;
        long allocated = -1;
        Instant extended = null;
        for (int i = 3; i < lines.length; i++) {
            String line = lines[i];
            try {
                if (line.startsWith(PATH)) {
                    path = line.substring(PATH.length());
                } else if (line.startsWith(ALLOCATED)) {
                    allocated = Long.parseLong(line.substring(ALLOCATED.length()));
                } else if (line.startsWith(EXTENDED)) {
                    extended = Instant.ofEpochMilli(Long.parseLong(line.substring(EXTENDED.length())));
                }
            } catch (NumberFormatException ignored) {
                // a description that cannot be read is not shown
            }
        }
        return new VolumeLease(volumeId, lines[0], epoch, since, path, allocated, extended);
    }
}
