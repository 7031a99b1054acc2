package io.storagebus.bus;

/** The bytes of a record are not a StorageBus message this reader knows. */
public final class UndecodableRecordException extends Exception {
    public UndecodableRecordException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
