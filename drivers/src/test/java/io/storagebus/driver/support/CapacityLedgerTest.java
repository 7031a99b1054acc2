package io.storagebus.driver.support;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.storagebus.driver.Epoch;
import org.junit.jupiter.api.Test;

class CapacityLedgerTest {
    private final AtomicLong clock = new AtomicLong();
    private final CapacityLedger ledger = new CapacityLedger(Duration.ofMinutes(5), clock::get);
    private final Path dir = Path.of("/domains/a");
    private final AtomicLong onStorage = new AtomicLong(100);
    private final AtomicInteger scans = new AtomicInteger();

    private long used(Epoch epoch) throws Exception {
        return ledger.used(dir, epoch, () -> {
            scans.incrementAndGet();
            return onStorage.get();
        });
    }

    @Test
    void aTermScansOnceThenCountsWhatItAllocates() throws Exception {
        assertEquals(100, used(Epoch.of(1)));
        ledger.allocated(dir, 20);
        onStorage.addAndGet(20);
        assertEquals(120, used(Epoch.of(1)));
        assertEquals(1, scans.get(), "no scan per question");
    }

    @Test
    void aNewTermOrAnyOtherChangeStartsFromTheStorage() throws Exception {
        used(Epoch.of(1));
        onStorage.set(300); // another host's term changed the domain
        assertEquals(300, used(Epoch.of(2)));
        onStorage.set(250);
        ledger.forget(dir); // a delete
        assertEquals(250, used(Epoch.of(2)));
        assertEquals(3, scans.get());
    }

    @Test
    void aDifferenceFoundByThePeriodicCheckIsCorrected() throws Exception {
        used(Epoch.of(1));
        onStorage.set(140); // a file grown behind the driver's back
        assertEquals(100, used(Epoch.of(1)), "not checked before the period");
        clock.addAndGet(Duration.ofMinutes(5).toNanos());
        assertEquals(140, used(Epoch.of(1)));
        assertEquals(2, scans.get());
    }

    @Test
    void aQuestionOutsideATermUsesTheAccountButNeverMakesOne() throws Exception {
        assertEquals(100, used(Epoch.UNFENCED));
        assertEquals(100, used(Epoch.UNFENCED));
        assertEquals(2, scans.get(), "no account made outside a term");
        used(Epoch.of(1));
        onStorage.set(999);
        assertEquals(100, used(Epoch.UNFENCED));
    }
}
