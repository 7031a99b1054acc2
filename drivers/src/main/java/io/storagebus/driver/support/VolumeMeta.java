package io.storagebus.driver.support;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.VolumeFormat;

/**
 * What a file-backed domain stores next to each volume's data, so the domain describes itself
 * and can be attached to another pool.
 *
 * @param dataFile name of the data file in the same directory
 * @param parent volume id of the backing volume of a copy-on-write clone, or null
 */
public record VolumeMeta(String volumeId, String name, long virtualSize, VolumeFormat format, Allocation allocation,
                         String dataFile, String parent) {
}
