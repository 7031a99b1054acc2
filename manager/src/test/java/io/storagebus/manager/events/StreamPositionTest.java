package io.storagebus.manager.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StreamPositionTest {
    @Test
    void anIdReadsBackAsThePositionItWasWrittenFrom() {
        StreamPosition position = StreamPosition.of(12, 0, 7);
        assertEquals("0-12.1-0.2-7", position.toString());
        assertEquals(position, StreamPosition.parse(position.toString(), 3));
        assertEquals(position, StreamPosition.parse("2-7.0-12.1-0", 3), "partitions in any order");
    }

    @Test
    void aPositionMovesPastARecordAndNeverBack() {
        StreamPosition position = StreamPosition.of(5, 5);
        assertTrue(position.hasSeen(0, 4));
        assertFalse(position.hasSeen(0, 5));
        assertEquals(StreamPosition.of(5, 10), position.after(1, 9));
        assertEquals(position, position.after(1, 2), "an older record does not move it back");
        assertEquals(StreamPosition.of(7, 5), position.max(StreamPosition.of(7, 1)));
    }

    @Test
    void coversOnlyWhenAtOrPastInEveryPartition() {
        assertTrue(StreamPosition.of(3, 4).covers(StreamPosition.of(3, 4)));
        assertTrue(StreamPosition.of(3, 9).covers(StreamPosition.of(3, 4)));
        assertFalse(StreamPosition.of(9, 3).covers(StreamPosition.of(3, 4)));
    }

    @Test
    void anIdFromElsewhereIsRefusedWithWhatIsWrong() {
        for (String bad : new String[] {"", "yesterday", "0-1.1-2", "0-1.1-2.3-4", "0-1.0-2.1-3", "0-1.1-2.2-99999999999999999999",
                "0-1,1-2,2-3", "-1-2.1-2.2-3", "0-1.1-2.2-3."}) {
            assertThrows(IllegalArgumentException.class, () -> StreamPosition.parse(bad, 3), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> StreamPosition.parse(null, 3));
    }
}
