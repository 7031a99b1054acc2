package io.storagebus.manager.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Set;

import org.junit.jupiter.api.Test;

class EventRingTest {
    private static StreamedEvent event(long seq) {
        return new StreamedEvent(seq, 0, 100 + seq, StreamPosition.of(101 + seq), "VolumeCreated", "default", "d", Set.of("v"), "{}");
    }

    @Test
    void holdsTheLatestEventsAndMovesItsFloorPastWhatItEvicts() {
        EventRing ring = new EventRing(3, StreamPosition.of(100));
        for (long seq = 0; seq < 3; seq++) {
            ring.append(event(seq));
        }
        assertEquals(0, ring.tail());
        assertEquals(StreamPosition.of(100), ring.floor(), "nothing evicted: a reader at the start has everything");
        ring.append(event(3));
        ring.append(event(4));
        assertEquals(5, ring.head());
        assertEquals(2, ring.tail());
        assertNull(ring.get(1), "evicted");
        assertEquals(102, ring.get(2).offset());
        assertNull(ring.get(5), "not appended yet");
        assertEquals(StreamPosition.of(102), ring.floor(), "a reader must have seen offsets 100 and 101");
    }

    @Test
    void refusesAnEventOutOfSequence() {
        EventRing ring = new EventRing(3, StreamPosition.of(0));
        assertThrows(IllegalArgumentException.class, () -> ring.append(event(1)));
    }
}
