package io.storagebus.driver;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A storage driver: how volumes of one kind of storage are made. Drivers are stateless; every
 * operation receives the domain (its id and validated property bag), so one driver instance
 * serves every domain of its kind. Found through {@link java.util.ServiceLoader}.
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
     * Creates a volume; idempotent by {@link VolumeSpec#volumeId()}: creating an existing volume
     * with the same spec returns it, with another spec fails with {@link DriverException.Code#CONFLICT}.
     * On failure nothing of the volume is left behind.
     */
    VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException;
}
