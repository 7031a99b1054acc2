package io.storagebus.manager.bus;

/** Kafka did not commit a request's records; none of them is visible to anyone. */
public final class PublishFailedException extends RuntimeException {
    public PublishFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
