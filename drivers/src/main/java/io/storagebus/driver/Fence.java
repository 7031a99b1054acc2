package io.storagebus.driver;

/**
 * A driver's storage-side fence: where the storage records the highest epoch that has written
 * a domain, advanced by compare-and-set so that two terms racing cannot both pass. Each driver
 * keeps it where its storage can do a compare-and-set: a file under a lock for directories,
 * tags of the volume group for LVM, a conditional PUT for an object store.
 */
public interface Fence {
    /** A driver that writes no pool metadata has nothing to fence. */
    Fence NONE = new Fence() {
        @Override
        public void advance(DomainContext domain) {
        }

        @Override
        public Epoch highest(DomainContext domain) {
            return Epoch.UNFENCED;
        }
    };

    /**
     * Lets {@code domain}'s epoch write: refuses with {@link FencedException} if a newer epoch has
     * written the domain, else records this epoch as the highest (if it is newer). Unfenced
     * contexts pass.
     */
    void advance(DomainContext domain) throws DriverException;

    /** The highest epoch that has written the domain; {@link Epoch#UNFENCED} if none has. */
    Epoch highest(DomainContext domain) throws DriverException;
}
