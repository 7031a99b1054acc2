package io.storagebus.worker.spm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverException;
import io.storagebus.schema.CapacityAlert;
import io.storagebus.schema.CapacityLevel;
import io.storagebus.schema.DomainCapacity;
import io.storagebus.schema.Envelope;
import io.storagebus.worker.thin.TimeToFull;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

class CapacityForecastsTest {
    private static final long SECOND = 1_000_000_000L;
    private static final long MIB = 1L << 20;
    private static final Envelope CAUSE = Envelopes.origin("pool-1", "host:h1", "report-1");

    private final AtomicLong now = new AtomicLong();
    private final CapacityForecasts forecasts = new CapacityForecasts(TimeToFull.DEFAULT, "host:spm", 7, now::get);
    private final MessageCodec codec = MessageCodec.standard();

    @Test
    void theStateIsWrittenFirstThenAtEachCrossingAndEvery30SecondsNotPerExtend() throws Exception {
        // 600 MiB asked for: 1 MiB/s, a TiB lasts twelve days.
        List<Object> first = extended(600 * MIB, 1L << 40);
        assertEquals(1, first.size(), first.toString());
        DomainCapacity cleared = (DomainCapacity) first.get(0);
        assertEquals(CapacityLevel.CLEARED, cleared.getLevel());
        assertEquals(1L << 40, cleared.getFreeBytes());
        assertEquals(MIB, cleared.getDemandBytesPerSecond(), MIB / 100);
        assertEquals(7L, cleared.getEnvelope().getSpmEpoch());
        assertEquals("pool-1", cleared.getEnvelope().getPool());

        at(1);
        assertEquals(List.of(), extended(MIB, 1L << 40), "nothing crossed, nothing due");

        at(2);
        List<Object> warning = extended(0, 3000 * MIB);
        assertEquals(2, warning.size(), warning.toString());
        assertEquals(CapacityLevel.WARNING, ((CapacityAlert) warning.get(0)).getLevel());
        DomainCapacity state = (DomainCapacity) warning.get(1);
        assertEquals(CapacityLevel.WARNING, state.getLevel());
        assertEquals(3000, state.getSecondsToFull(), 10);

        at(3);
        assertEquals(List.of(), extended(0, 2999 * MIB));
        at(33);
        List<Object> due = extended(0, 2990 * MIB);
        assertEquals(1, due.size(), "30 s after the last: " + due);
        assertEquals(2990 * MIB, ((DomainCapacity) due.get(0)).getFreeBytes());

        at(34);
        List<Object> critical = extended(0, 300 * MIB);
        assertEquals(CapacityLevel.CRITICAL, ((CapacityAlert) critical.get(0)).getLevel());
        assertEquals(CapacityLevel.CRITICAL, ((DomainCapacity) critical.get(1)).getLevel());
    }

    @Test
    void aDomainShortOfSpaceIsSaidOnceAndAgainAtOnceWhenItFillsUp() throws Exception {
        CapacityForecasts.Short first = forecasts.shortOfSpace("d1", "v1", CAUSE, 64 * MIB, free(100 * MIB));
        assertEquals(CapacityLevel.SHORT, decoded(first.records()).get(0) instanceof DomainCapacity c ? c.getLevel() : null);
        assertTrue(first.secondsToFull() > 0, "the refused demand makes a forecast: " + first.secondsToFull());

        at(1);
        assertEquals(List.of(), forecasts.shortOfSpace("d1", "v2", CAUSE, 64 * MIB, free(50 * MIB)).records());

        at(2);
        List<Object> full = decoded(forecasts.shortOfSpace("d1", "v3", CAUSE, 64 * MIB, free(0)).records());
        assertEquals(1, full.size(), "the domain filled up: said at once");
        assertEquals(0, ((DomainCapacity) full.get(0)).getFreeBytes());
        assertEquals(0, ((DomainCapacity) full.get(0)).getSecondsToFull());

        at(3);
        assertEquals(List.of(), extended(0, 0), "still SHORT: a forecast level does not replace it, and nothing is due");
    }

    @Test
    void aRaisedLevelFadesAndClearsWhileNoExtendComes() throws Exception {
        extended(600 * MIB, 1L << 40);
        at(1);
        assertEquals(CapacityLevel.WARNING, ((CapacityAlert) extended(0, 3000 * MIB).get(0)).getLevel());

        at(60);
        assertEquals(List.of(), forecasts.refresh(), "not due yet");
        // After two minutes the demand has faded by a fifth: 3,000 s became about 3,700, past the hour.
        at(1 + CapacityForecasts.IDLE_EVERY.toSeconds());
        List<Object> faded = decoded(forecasts.refresh());
        assertEquals(2, faded.size(), faded.toString());
        assertEquals(CapacityLevel.CLEARED, ((CapacityAlert) faded.get(0)).getLevel());
        DomainCapacity state = (DomainCapacity) faded.get(1);
        assertEquals(CapacityLevel.CLEARED, state.getLevel());
        assertTrue(state.getSecondsToFull() > 3600, state.toString());

        at(1 + 3 * CapacityForecasts.IDLE_EVERY.toSeconds());
        assertEquals(List.of(), forecasts.refresh(), "a cleared domain is left as it is");
    }

    @Test
    void aFullDomainThatGotSpaceWithoutExtendsClearsWhenItsFreeSpaceIsReadAgain() throws Exception {
        AtomicLong storage = new AtomicLong(0);
        CapacityForecasts.Short full = forecasts.shortOfSpace("d1", "v1", CAUSE, 64 * MIB, () -> OptionalLong.of(storage.get()));
        assertEquals(0, full.freeBytes());
        assertEquals(CapacityLevel.SHORT, ((DomainCapacity) decoded(full.records()).get(0)).getLevel());

        // Volumes deleted: a TiB free, and no extend comes to say so.
        storage.set(1L << 40);
        at(CapacityForecasts.IDLE_EVERY.toSeconds());
        List<Object> cleared = decoded(forecasts.refresh());
        assertEquals(CapacityLevel.CLEARED, ((CapacityAlert) cleared.get(0)).getLevel(), cleared.toString());
        assertEquals(1L << 40, ((DomainCapacity) cleared.get(1)).getFreeBytes());
    }

    @Test
    void aFreeSpaceTheDriverCannotReadAgainKeepsTheLastFigure() throws Exception {
        AtomicLong reads = new AtomicLong();
        forecasts.shortOfSpace("d1", "v1", CAUSE, 64 * MIB, () -> {
            if (reads.incrementAndGet() > 1) {
                throw new DriverException(DriverException.Code.IO_ERROR, "vgs failed");
            }
            return OptionalLong.of(0);
        });
        at(CapacityForecasts.IDLE_EVERY.toSeconds());
        List<Object> still = decoded(forecasts.refresh());
        assertEquals(2, reads.get(), "read again");
        assertEquals(1, still.size(), "still SHORT, still full: the state again, no alert: " + still);
        assertEquals(0, ((DomainCapacity) still.get(0)).getFreeBytes());
        assertEquals(CapacityLevel.SHORT, ((DomainCapacity) still.get(0)).getLevel());
    }

    @Test
    void aDomainWithoutAFreeSpaceFigureHasNoForecast() throws DriverException {
        assertEquals(List.of(), forecasts.extended("d1", "v1", CAUSE, 600 * MIB, OptionalLong::empty));
        assertEquals(List.of(), forecasts.refresh());
    }

    private static CapacityForecasts.Space free(long bytes) {
        return () -> OptionalLong.of(bytes);
    }

    private void at(long seconds) {
        now.set(seconds * SECOND);
    }

    private List<Object> extended(long demanded, long free) throws Exception {
        return decoded(forecasts.extended("d1", "v1", CAUSE, demanded, () -> OptionalLong.of(free)));
    }

    /** The records' values, checking each goes where the managers and subscribers read it, keyed by the domain. */
    private List<Object> decoded(List<ProducerRecord<String, byte[]>> records) throws Exception {
        List<Object> values = new java.util.ArrayList<>();
        for (ProducerRecord<String, byte[]> r : records) {
            Object value = codec.decode(r.value());
            assertEquals(value instanceof DomainCapacity ? Topics.CAPACITY_STATE : Topics.EVENTS, r.topic());
            assertEquals("d1", r.key());
            values.add(value);
        }
        return values;
    }
}
