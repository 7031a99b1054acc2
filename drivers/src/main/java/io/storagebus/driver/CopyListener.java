package io.storagebus.driver;

/** Told how far a copy has got; called from the copying thread, so it must be quick. */
@FunctionalInterface
public interface CopyListener {
    CopyListener NONE = (copied, total) -> { };

    void progress(long copiedBytes, long totalBytes);
}
