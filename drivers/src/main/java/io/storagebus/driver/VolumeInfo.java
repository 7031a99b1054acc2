package io.storagebus.driver;

/**
 * A volume as its driver sees it.
 *
 * @param location where the driver keeps it: {@code file:///…}, {@code /dev/vg/lv}, {@code s3://bucket/key}
 * @param allocatedSize bytes the volume occupies as addressed storage (file length, LV size,
 *        object size); {@link StorageDriver#read} streams exactly this many bytes
 * @param actualSize bytes physically used (a sparse file uses less than its length)
 */
public record VolumeInfo(VolumeUri uri, String name, String location, long virtualSize, long allocatedSize, long actualSize,
                         VolumeFormat format, Allocation allocation) {

    public String volumeId() {
        return uri.volumeId();
    }
}
