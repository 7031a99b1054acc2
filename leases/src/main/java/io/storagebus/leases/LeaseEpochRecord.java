package io.storagebus.leases;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The persistent record of a volume's last lease ({@code /storagebus/lease-epochs/<volumeId>}):
 * its epoch, who took it, the holder's guard (see {@link LeaseTakeover}) and whether the holder
 * gave it back. Read from ZooKeeper, so input from a stranger: the epoch line must be well formed
 * (a lease's epoch decides who may write), what follows is descriptive and a line that cannot be
 * read counts as not said. A record of a version before holders said this is just the epoch.
 *
 * @param holder   who took the lease; null when not said
 * @param guard    the holder's guard; null when not said
 * @param released whether the holder gave the lease back (teardown): its guests are done with it
 */
record LeaseEpochRecord(long epoch, String holder, Duration guard, boolean released) {
    private static final String HOLDER = "holder=";
    private static final String GUARD_MS = "guard-ms=";
    private static final String RELEASED = "released";

    /** A volume never leased. */
    static final LeaseEpochRecord NONE = new LeaseEpochRecord(0, null, null, true);

    LeaseEpochRecord givenBack() {
        return new LeaseEpochRecord(epoch, holder, guard, true);
    }

    byte[] toBytes() {
        StringBuilder b = new StringBuilder().append(epoch);
        if (holder != null) {
            b.append('\n').append(HOLDER).append(holder);
        }
        if (guard != null) {
            b.append('\n').append(GUARD_MS).append(guard.toMillis());
        }
        if (released) {
            b.append('\n').append(RELEASED);
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    static LeaseEpochRecord fromBytes(String volumeId, byte[] data) {
        String[] lines = new String(data, StandardCharsets.UTF_8).split("\n");
        long epoch;
        try {
            epoch = Long.parseLong(lines[0].trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("malformed lease epoch record of volume " + volumeId + ": " + e.getMessage(), e);
        }
        if (epoch < 0) {
            throw new IllegalArgumentException("malformed lease epoch record of volume " + volumeId + ": negative epoch " + epoch);
        }
        String holder = null;
        Duration guard = null;
        boolean released = epoch == 0;
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            if (line.startsWith(HOLDER) && line.length() > HOLDER.length()) {
                holder = line.substring(HOLDER.length());
            } else if (line.startsWith(GUARD_MS)) {
                try {
                    long ms = Long.parseLong(line.substring(GUARD_MS.length()));
                    guard = ms >= 0 ? Duration.ofMillis(ms) : null;
                } catch (NumberFormatException ignored) {
                    // not said, so the reader assumes the longest it knows
                }
            } else if (line.equals(RELEASED)) {
                released = true;
            }
        }
        return new LeaseEpochRecord(epoch, holder, guard, released);
    }
}
