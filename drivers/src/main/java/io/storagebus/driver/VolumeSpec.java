package io.storagebus.driver;

import java.util.regex.Pattern;

/** What to create. The volume id names the volume on storage; the name is for people. */
public record VolumeSpec(String volumeId, String name, long virtualSize, VolumeFormat format, Allocation allocation) {
    /** Ids become file and LV names, so nothing that could leave a directory is allowed. */
    public static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");

    public VolumeSpec {
        if (!ID.matcher(volumeId).matches()) {
            throw new IllegalArgumentException("invalid volume id '" + volumeId + "': " + ID.pattern());
        }
        if (virtualSize <= 0) {
            throw new IllegalArgumentException("virtual size must be positive, got " + virtualSize);
        }
    }
}
