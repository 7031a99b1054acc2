package io.storagebus.manager.maintenance;

import java.util.List;

import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.VolumeState;

/**
 * How a drain starts moving one volume: the records to publish with the drain's transition, the
 * move's task id being the envelope's correlation id; a {@code RequestException} says why the
 * volume cannot move.
 */
@FunctionalInterface
public interface DrainMoves {
    List<Outgoing> start(VolumeState volume, DomainState target, Envelope envelope);
}
