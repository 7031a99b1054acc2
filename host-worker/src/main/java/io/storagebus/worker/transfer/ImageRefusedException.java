package io.storagebus.worker.transfer;

/** An uploaded image the SPM will not put into a volume; {@code code} is the task's error code. */
public final class ImageRefusedException extends Exception {
    private final String code;

    public ImageRefusedException(String code, String message) {
        super(message);
        this.code = code;
    }

    public String code() {
        return code;
    }
}
