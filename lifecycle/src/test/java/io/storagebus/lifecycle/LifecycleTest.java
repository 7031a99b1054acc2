package io.storagebus.lifecycle;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LifecycleTest {
    @Test
    void startsOnceAndClosesForGood() {
        Lifecycle lifecycle = new Lifecycle("election");
        assertEquals(Lifecycle.State.LATENT, lifecycle.state());
        lifecycle.start();
        assertTrue(lifecycle.isStarted());
        IllegalStateException again = assertThrows(IllegalStateException.class, lifecycle::start);
        assertEquals("election cannot start: it is STARTED", again.getMessage());
        assertTrue(lifecycle.close(), "the close that stops what start began");
        assertFalse(lifecycle.close(), "a second close has nothing to stop");
        assertTrue(lifecycle.isClosed());
        assertThrows(IllegalStateException.class, lifecycle::start, "never again after a close");
    }

    @Test
    void closingWhatNeverStartedStopsNothingAndKeepsItFromStarting() {
        Lifecycle lifecycle = new Lifecycle("loop");
        assertFalse(lifecycle.close());
        assertTrue(lifecycle.isClosed());
        assertThrows(IllegalStateException.class, lifecycle::start);
    }

    @Test
    void ofManyThreadsClosingOnlyOneStops() throws Exception {
        Lifecycle lifecycle = new Lifecycle("bus");
        lifecycle.start();
        AtomicInteger stoppers = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        Thread[] threads = new Thread[8];
        for (int i = 0; i < threads.length; i++) {
            threads[i] = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                if (lifecycle.close()) {
                    stoppers.incrementAndGet();
                }
            });
            threads[i].start();
        }
        go.countDown();
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(1, stoppers.get());
    }
}
