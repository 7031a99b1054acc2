package io.storagebus.worker.spm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalLong;

import org.junit.jupiter.api.Test;

class FillForecastTest {
    private static final long SECOND = 1_000_000_000L;
    private static final long MIB = 1L << 20;

    @Test
    void noDemandNoForecast() {
        assertEquals(OptionalLong.empty(), new FillForecast().secondsToFull(100 * MIB, 0));
    }

    @Test
    void aSteadyDemandReadsAsItsRateAndForecastsFreeOverRate() {
        FillForecast f = new FillForecast();
        long t = 0;
        for (int i = 0; i < 7200; i++) { // two hours of 1 MiB a second, twelve time constants
            f.demanded(MIB, t);
            t += SECOND;
        }
        assertEquals(MIB, f.rateAt(t), MIB * 0.01);
        assertEquals(3600, f.secondsToFull(3600 * MIB, t).getAsLong(), 40);
    }

    @Test
    void aBurstFadesOverTheTimeConstant() {
        FillForecast f = new FillForecast();
        f.demanded(600 * MIB, 0);
        double atOnce = f.rateAt(0);
        assertEquals(MIB, atOnce, 1, "600 MiB over a 600 s time constant reads as 1 MiB/s at first");
        double later = f.rateAt(FillForecast.TAU.toSeconds() * SECOND);
        assertEquals(atOnce / Math.E, later, 1);
        assertTrue(f.secondsToFull(100 * MIB, FillForecast.TAU.toSeconds() * SECOND).getAsLong()
                > f.secondsToFull(100 * MIB, 0).getAsLong(), "a fading burst pushes the forecast out");
    }
}
