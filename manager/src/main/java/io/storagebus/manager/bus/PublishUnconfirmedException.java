package io.storagebus.manager.bus;

/**
 * Kafka did not confirm a request's transaction in time: it may have been committed or not, and
 * nobody can tell yet. A client that sends the request again must be able to make it once only
 * (a create's Idempotency-Key), or look before it does.
 */
public final class PublishUnconfirmedException extends RuntimeException {
    public PublishUnconfirmedException(String message, Throwable cause) {
        super(message, cause);
    }
}
