package io.storagebus.manager.events;

import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The latest public events, in the order the stream read them, shared by every client: a client
 * keeps only its place in it (a sequence number), so a thousand clients cost one copy of each event.
 * One thread appends; any thread reads. An event older than the ring's capacity is gone from it: a
 * client whose place it was has fallen too far behind ({@link #get} answers null).
 */
final class EventRing {
    private final AtomicReferenceArray<StreamedEvent> slots;
    /** Sequence number of the next event appended; written only by the appending thread. */
    private volatile long head;
    /** Where a reader that has seen everything evicted stands: the position after the last event evicted. */
    private volatile StreamPosition floor;

    EventRing(int capacity, StreamPosition start) {
        this.slots = new AtomicReferenceArray<>(capacity);
        this.floor = start;
    }

    /** Appends the event with sequence number {@link #head()}; evicts the oldest when full. */
    void append(StreamedEvent event) {
        if (event.seq() != head) {
            throw new IllegalArgumentException("event " + event.seq() + " appended at " + head);
        }
        int slot = slot(head);
        StreamedEvent evicted = slots.get(slot);
        if (evicted != null) {
            floor = evicted.position();
        }
        slots.set(slot, event);
        head = head + 1;
    }

    /** The sequence number the next event appended will have. */
    long head() {
        return head;
    }

    /** The oldest sequence number still held. */
    long tail() {
        return Math.max(0, head - slots.length());
    }

    /** Where a reader must stand (at or past, in every partition) for the ring to hold everything it has not seen. */
    StreamPosition floor() {
        return floor;
    }

    /** The event with this sequence number, or null when it is evicted (or not appended yet). */
    StreamedEvent get(long seq) {
        StreamedEvent event = slots.get(slot(seq));
        return event != null && event.seq() == seq ? event : null;
    }

    private int slot(long seq) {
        return (int) (seq % slots.length());
    }
}
