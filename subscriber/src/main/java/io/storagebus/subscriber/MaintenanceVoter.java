package io.storagebus.subscriber;

import io.storagebus.schema.MaintenanceRequested;

/**
 * Decides a subscriber's vote on a maintenance request it is asked about. Called on the
 * subscriber's thread, once per request; it should answer well before the request's deadline.
 * Return null to answer later with {@link StorageSubscriber#vote}; an exception leaves the
 * subscriber silent, so its silence policy decides.
 */
@FunctionalInterface
public interface MaintenanceVoter {
    Vote vote(MaintenanceRequested request) throws Exception;
}
