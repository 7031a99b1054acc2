package io.storagebus.manager.events;

import java.util.Set;

/**
 * Which events a client of the stream wants; an unset part lets every event through.
 *
 * @param types  simple names of the event types (VolumeCreated), empty for all
 * @param domain a domain id the event names
 * @param volume a volume id the event names (the source or the target of a copy counts)
 * @param pool   the pool of the event's envelope
 */
public record EventFilter(Set<String> types, String domain, String volume, String pool) {
    public static final EventFilter ALL = new EventFilter(Set.of(), null, null, null);

    public EventFilter {
        types = Set.copyOf(types);
    }

    boolean matches(StreamedEvent event) {
        return (types.isEmpty() || types.contains(event.type()))
                && (domain == null || domain.equals(event.domainId()))
                && (volume == null || event.volumeIds().contains(volume))
                && (pool == null || pool.equals(event.pool()));
    }
}
