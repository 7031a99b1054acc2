package io.storagebus.manager.events;

import java.util.Set;

/**
 * One public event as the stream serves it: decoded and encoded once for every client.
 *
 * @param seq       its place in the {@link EventRing}, counting from the stream's start
 * @param partition where Kafka holds it
 * @param offset    its offset in that partition
 * @param position  where a client that has seen it resumes: its SSE id ({@link StreamPosition})
 * @param type      the record's simple name (VolumeCreated)
 * @param pool      the envelope's pool
 * @param domainId  its domain, if it names one
 * @param volumeIds the volumes it names (a copy names two)
 * @param data      the SSE data line: the event as JSON
 */
public record StreamedEvent(long seq, int partition, long offset, StreamPosition position, String type, String pool,
                            String domainId, Set<String> volumeIds, String data) {
}
