package io.storagebus.worker.thin;

import java.time.Duration;

/**
 * When the SPM warns that a domain is filling up: its forecast time to full (free space over the
 * rate its thin volumes have been asking for space) under {@code warning} raises a WARNING
 * {@code CapacityAlert}, under {@code critical} a CRITICAL one, before any extend is refused.
 */
public record TimeToFull(Duration warning, Duration critical) {
    public static final TimeToFull DEFAULT = new TimeToFull(Duration.ofHours(1), Duration.ofMinutes(10));

    public TimeToFull {
        if (warning == null || critical == null || critical.isNegative() || critical.isZero() || warning.compareTo(critical) < 0) {
            throw new IllegalArgumentException("time-to-full thresholds must be positive with warning >= critical, not warning "
                    + warning + " and critical " + critical);
        }
    }
}
