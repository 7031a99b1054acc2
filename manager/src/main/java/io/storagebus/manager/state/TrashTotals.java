package io.storagebus.manager.state;

import io.storagebus.schema.VolumeState;

/** What a domain's trash holds: how many volumes, and their virtual sizes together (bytes). */
public record TrashTotals(int volumes, long virtualSize) {
    static final TrashTotals EMPTY = new TrashTotals(0, 0);

    TrashTotals plus(VolumeState v, int sign) {
        return new TrashTotals(volumes + sign, virtualSize + sign * v.getVirtualSize());
    }
}
