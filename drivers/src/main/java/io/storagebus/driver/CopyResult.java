package io.storagebus.driver;

/**
 * The outcome of a verified copy.
 *
 * @param sha256 hex SHA-256 of the bytes copied, which the target was read back and matched against
 */
public record CopyResult(VolumeInfo target, long bytes, String sha256, long copyNanos, long verifyNanos) {
}
