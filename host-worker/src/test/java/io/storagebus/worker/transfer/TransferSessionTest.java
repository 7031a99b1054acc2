package io.storagebus.worker.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class TransferSessionTest {
    private final MutableClock clock = new MutableClock();

    @Test
    void noChunkStartsOnceTheClientFinishedAndTheJobWaitsForThoseUnderWay() throws Exception {
        TransferSession session = TransferSession.upload("t", Path.of("unused"), 100, Duration.ofMinutes(5), clock);
        assertTrue(session.startChunk());
        CompletableFuture<TransferSession.Answer> answer = session.finish("ab", 100L);
        assertFalse(session.startChunk(), "a chunk after the finish is refused");
        TransferSession.End end = session.awaitEnd(Duration.ofSeconds(1));
        assertTrue(end.finished());
        assertEquals(100L, end.size());
        assertFalse(session.awaitChunks(Duration.ofMillis(50)), "the chunk that started before the finish still runs");
        CompletableFuture.runAsync(session::chunkDone, CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS));
        assertTrue(session.awaitChunks(Duration.ofSeconds(10)));
        assertFalse(answer.isDone(), "the client hears once the job answers");
        session.answer(new TransferSession.Answer(200, null, null, "ab", 100));
        assertEquals(200, answer.get(1, TimeUnit.SECONDS).status());
    }

    @Test
    void aTransferExpiresOnlyAfterItsTimeoutWithoutARequestRunning() throws Exception {
        TransferSession session = TransferSession.download("t", Path.of("unused"), 10, "[]", Duration.ofSeconds(30), clock);
        clock.advance(Duration.ofSeconds(29));
        assertFalse(session.expired());
        session.begin();
        clock.advance(Duration.ofMinutes(10));
        assertFalse(session.expired(), "never under a request that runs");
        session.done();
        clock.advance(Duration.ofSeconds(29));
        assertFalse(session.expired());
        clock.advance(Duration.ofSeconds(1));
        assertTrue(session.expired());
        assertNull(session.awaitEnd(Duration.ofMillis(10)), "expiry is the job's to decide");
    }

    @Test
    void anUploadsLengthIsFixedByItsFirstChunk() {
        TransferSession session = TransferSession.upload("t", Path.of("unused"), 100, Duration.ofMinutes(5), clock);
        assertEquals(-1, session.size());
        assertTrue(session.fixSize(80));
        assertTrue(session.fixSize(80));
        assertFalse(session.fixSize(90));
        assertEquals(80, session.size());
    }

    private static final class MutableClock extends Clock {
        private Instant now = Instant.parse("2026-12-03T12:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
