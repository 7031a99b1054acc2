package io.storagebus.worker.spm;

/** The storage refused a write under this term's epoch: a newer SPM is in charge, this one must stop. */
final class SpmFencedException extends RuntimeException {
    SpmFencedException(String message, Throwable cause) {
        super(message, cause);
    }
}
