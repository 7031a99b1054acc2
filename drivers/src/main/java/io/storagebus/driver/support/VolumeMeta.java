package io.storagebus.driver.support;

import java.util.ArrayList;
import java.util.List;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.VolumeFormat;

/**
 * What a file-backed domain stores next to each volume's data, so the domain describes itself
 * and can be attached to another pool.
 *
 * @param dataFile name of the volume's top layer (the file a guest writes), in the same directory
 * @param parent volume id of the backing volume of a copy-on-write clone, or null
 * @param generation how many layers the volume has had on top of its first: names new top layers
 * @param snapshots the frozen layers below the top, oldest (the base) first; each backs the next,
 *        and the last backs {@code dataFile}. Null in metadata written before snapshots existed.
 */
public record VolumeMeta(String volumeId, String name, long virtualSize, VolumeFormat format, Allocation allocation,
                         String dataFile, String parent, int generation, List<LayerMeta> snapshots) {

    public VolumeMeta {
        snapshots = snapshots == null ? List.of() : List.copyOf(snapshots);
    }

    public VolumeMeta(String volumeId, String name, long virtualSize, VolumeFormat format, Allocation allocation,
                      String dataFile, String parent) {
        this(volumeId, name, virtualSize, format, allocation, dataFile, parent, 0, List.of());
    }

    /** Every data file of the volume: its snapshots' layers and its top. */
    public List<String> dataFiles() {
        List<String> files = new ArrayList<>();
        snapshots.forEach(s -> files.add(s.dataFile()));
        files.add(dataFile);
        return files;
    }

    public VolumeMeta withVirtualSize(long newVirtualSize) {
        return new VolumeMeta(volumeId, name, newVirtualSize, format, allocation, dataFile, parent, generation, snapshots);
    }

    public VolumeMeta withParent(String newParent) {
        return new VolumeMeta(volumeId, name, virtualSize, format, allocation, dataFile, newParent, generation, snapshots);
    }

    public VolumeMeta withChain(String top, int newGeneration, List<LayerMeta> layers) {
        return new VolumeMeta(volumeId, name, virtualSize, format, allocation, top, parent, newGeneration, layers);
    }
}
