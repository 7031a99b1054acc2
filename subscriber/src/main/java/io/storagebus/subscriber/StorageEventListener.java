package io.storagebus.subscriber;

import org.apache.avro.specific.SpecificRecord;

/**
 * Receives every public storage event (VolumeCreated, MaintenanceStarted, ...), decoded, in the
 * order of its partition (the events of one volume or domain are in order). Called on the
 * subscriber's thread; a slow listener delays votes.
 */
@FunctionalInterface
public interface StorageEventListener {
    void onEvent(SpecificRecord event) throws Exception;
}
