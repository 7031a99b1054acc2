package io.storagebus.worker.thin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.storagebus.driver.Sizes;
import org.junit.jupiter.api.Test;

class ExtendPolicyTest {
    private static final long MIB = Sizes.MIB;
    private static final long GIB = Sizes.GIB;

    @Test
    void ovirtDefaultsReportWithAFifthOfAChunkLeftAndGrowByAChunk() {
        ExtendPolicy p = ExtendPolicy.OVIRT;
        assertEquals(2560 * MIB, p.chunkFor(0));
        assertEquals(512 * MIB, p.headroom(0));
        assertEquals(GIB - 512 * MIB, p.threshold(GIB, 0));
        assertFalse(p.needsExtend(GIB, GIB - 513 * MIB, 0));
        assertTrue(p.needsExtend(GIB, GIB - 512 * MIB, 0));
        assertEquals(GIB + 2560 * MIB, p.target(GIB, GIB - 100 * MIB, 0));
    }

    @Test
    void headroomIsExactForChunksThatAreNotMultiplesOfAHundred() {
        assertEquals(8 * MIB, new ExtendPolicy(32 * MIB, 25, 0).headroom(0));
    }

    @Test
    void aFastWriterGetsABiggerChunkAndIsReportedEarlier() {
        ExtendPolicy p = ExtendPolicy.OVIRT;
        long rate = 1300 * MIB; // oVirt pauses guests above ~1.3 GiB/s
        assertEquals(5 * rate, p.chunkFor(rate));
        assertEquals(rate, p.headroom(rate), "a fifth of five seconds of writes: one second for the round trip");
        assertTrue(p.threshold(10 * GIB, rate) < p.threshold(10 * GIB, 0));
        assertEquals(2560 * MIB, p.chunkFor(10 * MIB), "a slow writer keeps the minimum chunk");
    }

    @Test
    void aVolumeWrittenPastItsAllocationIsExtendedClearOfTheNextReport() {
        ExtendPolicy p = new ExtendPolicy(16 * MIB, 0, 0);
        assertEquals(16 * MIB, p.threshold(16 * MIB, 0), "no headroom: the threshold is the end of the allocation");
        assertTrue(p.needsExtend(16 * MIB, 16 * MIB, 0));
        assertEquals(32 * MIB, p.target(16 * MIB, 16 * MIB, 0));
        assertEquals(48 * MIB, p.target(16 * MIB, 40 * MIB, 0), "a report far past the allocation still gets room beyond it");
    }

    @Test
    void hugeRatesDoNotOverflow() {
        assertEquals(Long.MAX_VALUE, ExtendPolicy.OVIRT.chunkFor(Long.MAX_VALUE / 2));
    }

    @Test
    void nonsenseIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new ExtendPolicy(0, 20, 5));
        assertThrows(IllegalArgumentException.class, () -> new ExtendPolicy(MIB, 101, 5));
        assertThrows(IllegalArgumentException.class, () -> new ExtendPolicy(MIB, 20, -1));
    }
}
