package io.storagebus.driver;

/**
 * A volume as the driver sees it.
 *
 * @param uri where the volume is, e.g. {@code file:///srv/d1/volumes/<id>.qcow2}
 * @param allocatedSize bytes actually used on storage
 */
public record VolumeInfo(String volumeId, String uri, long virtualSize, long allocatedSize, VolumeFormat format, Allocation allocation) {
}
