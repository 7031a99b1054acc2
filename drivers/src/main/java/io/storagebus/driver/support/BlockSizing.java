package io.storagebus.driver.support;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeSpec;

/**
 * How big a volume on block storage (an LV, a loop-device file) is. Raw block volumes cannot be
 * thin: they are the guest's disk byte for byte. A thin qcow2 volume starts small and grows by
 * extend, never beyond the size of a fully allocated image (virtual size plus qcow2 metadata).
 */
public final class BlockSizing {
    /** oVirt's initial allocation of a thin block volume. */
    public static final long DEFAULT_THIN_INITIAL = Sizes.GIB;

    private BlockSizing() {
    }

    /** The most a volume of this format and virtual size can ever need, in whole extents. */
    public static long maxSize(VolumeFormat format, long virtualSize, long extent) throws DriverException {
        long bytes = format == VolumeFormat.QCOW2 ? QemuImg.qcow2FullSize(virtualSize) : virtualSize;
        return Sizes.roundUp(bytes, extent);
    }

    /** What to allocate at creation. */
    public static long initialSize(VolumeSpec spec, long extent) throws DriverException {
        if (spec.format() == VolumeFormat.RAW && spec.allocation() == Allocation.THIN) {
            throw new DriverException(DriverException.Code.INVALID_SPEC,
                    "raw volumes on block storage are always preallocated; ask for qcow2 to get a thin volume");
        }
        long max = maxSize(spec.format(), spec.virtualSize(), extent);
        if (spec.allocation() == Allocation.PREALLOCATED) {
            return max;
        }
        long wanted = spec.initialSize() > 0 ? spec.initialSize() : DEFAULT_THIN_INITIAL;
        return Math.min(Sizes.roundUp(wanted, extent), max);
    }
}
