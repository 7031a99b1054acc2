package io.storagebus.driver;

/** A driver operation failed; the code says why in a way callers can act on. */
public class DriverException extends Exception {
    public enum Code {
        /** The storage has no room for the operation. */
        NO_SPACE,
        /** A volume with this id exists with a different spec. */
        CONFLICT,
        /** No such volume (or not in the state the operation needs, e.g. restore of a live one). */
        NOT_FOUND,
        /** The domain's storage is missing or unusable. */
        DOMAIN_UNAVAILABLE,
        /** The driver does not declare the capability the operation needs. */
        UNSUPPORTED,
        /** The spec cannot be honoured by this driver (e.g. thin raw on block storage). */
        INVALID_SPEC,
        /** Not a volume URI, or one that names a volume of another domain. */
        INVALID_URI,
        /** Data read back does not match what was written. */
        CHECKSUM_MISMATCH,
        /** A storage tool or I/O call failed. */
        IO_ERROR,
        /** The volume was activated under a newer lease than the one presented: its holder lost it. */
        STALE_LEASE
    }

    private final Code code;

    public DriverException(Code code, String message) {
        this(code, message, null);
    }

    public DriverException(Code code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
