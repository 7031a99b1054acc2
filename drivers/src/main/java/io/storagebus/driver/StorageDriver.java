package io.storagebus.driver;

import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A storage driver: how volumes of one kind of storage are kept. Drivers are stateless; every
 * operation receives the domain (its id and validated property bag), so one instance serves
 * every domain of its kind. Volumes are named by {@link VolumeUri}; data moves as streams.
 *
 * <p>The seven basic operations are {@link #read}, {@link #write}, {@link #copyTo},
 * {@link #clone}, {@link #delink} (with {@link #restore} and {@link #purge}), {@link #destroy}
 * and {@link #list}. The optional ones are gated by {@link Capability}; their default
 * implementations refuse with {@link DriverException.Code#UNSUPPORTED}. Callers get drivers
 * from the {@link DriverRegistry}, which wraps each in a {@link CheckedDriver} that refuses
 * URIs of other domains and undeclared capabilities before the driver is called.
 *
 * <p>Every operation either completes or leaves nothing of itself behind.
 */
public interface StorageDriver {

    /** Short stable name used in domain definitions, e.g. {@code file}. */
    String name();

    Set<Capability> capabilities();

    /** Descriptors of the properties a domain of this driver takes. */
    List<PropertyDescriptor> properties();

    /**
     * The driver's own runtime checks of a bag that already matches {@link #properties()}, e.g.
     * that a directory exists and is writable. Empty when the bag is usable.
     */
    List<PropertyViolation> validate(Map<String, String> properties);

    /**
     * What identifies the storage a bag points at (a directory, a VG, a bucket and prefix), so
     * that no two domains are ever defined on the same storage. Never contains a secret.
     */
    String storageId(Map<String, String> properties);

    /**
     * Creates a volume; idempotent by volume id: creating an existing volume with the same spec
     * returns it, with another spec fails with {@link DriverException.Code#CONFLICT}.
     */
    VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException;

    /** The volume, or {@link DriverException.Code#NOT_FOUND}. Delinked volumes are not found. */
    VolumeInfo info(DomainContext domain, VolumeUri volume) throws DriverException;

    /** Streams the stored bytes of the volume: exactly {@link VolumeInfo#allocatedSize()} bytes. */
    InputStream read(DomainContext domain, VolumeUri volume) throws DriverException;

    /**
     * Replaces the stored bytes of the volume with {@code length} bytes from {@code data}, in the
     * volume's format. Block volumes must already be large enough.
     */
    void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException;

    /**
     * Copies the volume to another (or the same) driver as a stream: creates the target from
     * {@code targetSpec}, streams the data, and verifies a SHA-256 checksum by reading the
     * target back. A failed copy leaves no target volume.
     */
    default CopyResult copyTo(DomainContext domain, VolumeUri volume, StorageDriver target, DomainContext targetDomain,
                              VolumeSpec targetSpec, CopyListener listener) throws DriverException {
        return VolumeCopier.copy(this, domain, volume, target, targetDomain, targetSpec, listener);
    }

    /**
     * A new volume in the same domain with the same content: a copy-on-write overlay when the
     * driver declares {@link Capability#CLONE_COW}, a full copy otherwise.
     */
    default VolumeInfo clone(DomainContext domain, VolumeUri source, VolumeSpec clone) throws DriverException {
        return copyTo(domain, source, this, domain, clone, CopyListener.NONE).target();
    }

    /** Non-destructive delete: the volume leaves every listing but can be restored until purged. */
    void delink(DomainContext domain, VolumeUri volume) throws DriverException;

    /** Brings a delinked volume back. */
    VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException;

    /** Deletes a delinked volume for good. */
    void purge(DomainContext domain, VolumeUri volume) throws DriverException;

    /** Destructive delete of a live volume: overwritten with zeros first when {@code wipe}, then deleted. */
    void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException;

    /** Live volumes of the domain (not delinked ones), with their sizes. */
    List<VolumeInfo> list(DomainContext domain) throws DriverException;

    /** Delinked volumes of the domain, which {@link #restore} can bring back. */
    List<VolumeInfo> listDelinked(DomainContext domain) throws DriverException;

    /** {@link Capability#EXTENDABLE}: grows the allocated size to at least {@code newAllocatedSize}. */
    default VolumeInfo extend(DomainContext domain, VolumeUri volume, long newAllocatedSize) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.EXTENDABLE, "extend");
    }

    /**
     * {@link Capability#EXTENDABLE}: bytes the domain can still give to extends (free extents of
     * a VG, room left under a directory's capacity), or empty when the driver cannot tell.
     */
    default java.util.OptionalLong freeSpace(DomainContext domain) throws DriverException {
        return java.util.OptionalLong.empty();
    }

    /** {@link Capability#REFRESH}: makes this host see a size the SPM changed. */
    default void refresh(DomainContext domain, VolumeUri volume) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.REFRESH, "refresh");
    }

    /** {@link Capability#ACTIVATE}: prepares the volume on this host; returns the path a guest opens. */
    default String activate(DomainContext domain, VolumeUri volume) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.ACTIVATE, "activate");
    }

    /** {@link Capability#ACTIVATE}: releases what {@link #activate} set up on this host. */
    default void deactivate(DomainContext domain, VolumeUri volume) throws DriverException {
        throw CheckedDriver.unsupported(this, Capability.ACTIVATE, "deactivate");
    }
}
