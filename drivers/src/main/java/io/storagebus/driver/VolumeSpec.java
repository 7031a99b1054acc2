package io.storagebus.driver;

/**
 * What to create. The volume id names the volume on storage; the name is for people.
 *
 * @param initialSize for thin volumes on block storage: how much to allocate at first; 0 lets
 *        the driver choose
 */
public record VolumeSpec(String volumeId, String name, long virtualSize, VolumeFormat format, Allocation allocation,
                         long initialSize) {

    public VolumeSpec {
        if (volumeId == null || !VolumeUri.ID.matcher(volumeId).matches()) {
            throw new IllegalArgumentException("invalid volume id '" + volumeId + "': " + VolumeUri.ID.pattern());
        }
        if (virtualSize <= 0) {
            throw new IllegalArgumentException("virtual size must be positive, got " + virtualSize);
        }
        if (initialSize < 0) {
            throw new IllegalArgumentException("initial size must not be negative, got " + initialSize);
        }
    }

    public VolumeSpec(String volumeId, String name, long virtualSize, VolumeFormat format, Allocation allocation) {
        this(volumeId, name, virtualSize, format, allocation, 0);
    }

    public VolumeUri uri(DomainContext domain) {
        return new VolumeUri(domain.id(), volumeId);
    }
}
