package io.storagebus.driver.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.storagebus.driver.Epoch;
import org.junit.jupiter.api.Test;

class CapacityLedgerTest {
    private final AtomicLong clock = new AtomicLong();
    /** The periodic checks, run when a test says: as if the ledger's recheck thread were slow. */
    private final Deque<Runnable> rechecks = new ArrayDeque<>();
    private final CapacityLedger ledger = new CapacityLedger(Duration.ofMinutes(5), clock::get, rechecks::add);
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
        assertTrue(rechecks.isEmpty());
        clock.addAndGet(Duration.ofMinutes(5).toNanos());
        assertEquals(100, used(Epoch.of(1)), "the question that finds the check due does not wait for it");
        assertEquals(100, used(Epoch.of(1)));
        assertEquals(1, rechecks.size(), "one check at a time");
        rechecks.poll().run();
        assertEquals(140, used(Epoch.of(1)));
        assertEquals(2, scans.get());
    }

    /**
     * Extends go on while the check scans: whether the scan saw their allocations or not, a right
     * account stays as it is, and a wrong one is set to what the storage holds at most.
     */
    @Test
    void allocationsDuringTheCheckNeitherHideNorFakeADifference() throws Exception {
        used(Epoch.of(1));
        clock.addAndGet(Duration.ofMinutes(5).toNanos());
        used(Epoch.of(1));
        ledger.allocated(dir, 20);
        onStorage.addAndGet(20); // the scan sees this extend
        rechecks.poll().run();
        assertEquals(120, used(Epoch.of(1)), "a right account, the extend seen by the scan");

        clock.addAndGet(Duration.ofMinutes(5).toNanos());
        used(Epoch.of(1));
        Runnable check = rechecks.poll();
        check.run(); // scans 120 before the next extend lands
        ledger.allocated(dir, 30);
        onStorage.addAndGet(30);
        assertEquals(150, used(Epoch.of(1)));

        clock.addAndGet(Duration.ofMinutes(5).toNanos());
        used(Epoch.of(1));
        onStorage.addAndGet(40); // grown behind the driver's back
        long beforeExtend = onStorage.get();
        ledger.allocated(dir, 10); // during the scan, and not seen by it
        onStorage.set(beforeExtend);
        rechecks.poll().run();
        onStorage.addAndGet(10);
        assertEquals(200, used(Epoch.of(1)), "corrected: 190 scanned plus the 10 allocated during the scan");
    }

    @Test
    void aCheckOfAnAccountForgottenMeanwhileChangesNothing() throws Exception {
        used(Epoch.of(1));
        clock.addAndGet(Duration.ofMinutes(5).toNanos());
        used(Epoch.of(1));
        ledger.forget(dir); // a delete while the check waits to run
        onStorage.set(80);
        assertEquals(80, used(Epoch.of(1)), "a new account from the storage");
        onStorage.set(500);
        rechecks.poll().run();
        assertEquals(80, used(Epoch.of(1)), "the old account's check does not touch the new one");
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
