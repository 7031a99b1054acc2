package io.storagebus.driver;

/** A driver operation failed; the code says why in a way callers can act on. */
public class DriverException extends Exception {
    public enum Code {
        /** The storage has no room for the operation. */
        NO_SPACE,
        /** A volume with this id exists with a different spec. */
        CONFLICT,
        /** The domain's storage is missing or unusable. */
        DOMAIN_UNAVAILABLE,
        /** The driver does not declare the capability the operation needs. */
        UNSUPPORTED,
        /** A storage tool or I/O call failed. */
        IO_ERROR
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
