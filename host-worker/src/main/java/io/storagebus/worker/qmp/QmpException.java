package io.storagebus.worker.qmp;

/** QEMU refused a QMP command ({@code errorClass} as QEMU names it), or the connection failed. */
public final class QmpException extends RuntimeException {
    private final String errorClass;

    public QmpException(String errorClass, String message) {
        super(message);
        this.errorClass = errorClass;
    }

    /** QEMU's error class, e.g. {@code GenericError}; {@code Disconnected} when the socket closed. */
    public String errorClass() {
        return errorClass;
    }
}
