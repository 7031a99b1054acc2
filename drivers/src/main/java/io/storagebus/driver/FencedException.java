package io.storagebus.driver;

/**
 * A write under an SPM term's epoch that the storage refused: a newer term has written the
 * domain, so this term is over whatever ZooKeeper and Kafka say at this moment. Unchecked, and
 * not a {@link DriverException}: nobody handles it as a storage failure (a task that failed); it
 * ends the deposed term's work at once and publishes nothing of it.
 */
public final class FencedException extends RuntimeException {
    private final String domainId;
    private final Epoch writer;
    private final Epoch highest;

    public FencedException(String domainId, Epoch writer, Epoch highest) {
        super(writer + " may no longer write domain " + domainId + ": an SPM with " + highest + " has written it", null, false, false);
        this.domainId = domainId;
        this.writer = writer;
        this.highest = highest;
    }

    public String domainId() {
        return domainId;
    }

    /** The epoch that tried to write. */
    public Epoch writer() {
        return writer;
    }

    /** The highest epoch that has written the domain. */
    public Epoch highest() {
        return highest;
    }
}
