package io.storagebus.driver;

import java.nio.file.Path;
import java.util.Map;

/**
 * The domain a driver operation works on: its id, validated property bag (defaults applied),
 * and the fencing epoch of the SPM term the operation runs under. Drivers refuse a metadata
 * write whose epoch is older than the newest the domain has seen ({@link DriverException.Code#FENCED}).
 * Epoch 0 is "no SPM term": reads, validation and tools that run outside the SPM.
 * {@link #toString()} leaves the bag out, so secrets cannot reach a log through it.
 */
public record DomainContext(String id, Map<String, String> properties, long epoch) {

    public DomainContext {
        properties = Map.copyOf(properties);
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must not be negative");
        }
    }

    public DomainContext(String id, Map<String, String> properties) {
        this(id, properties, 0);
    }

    /** The same domain under an SPM term's epoch. */
    public DomainContext withEpoch(long termEpoch) {
        return new DomainContext(id, properties, termEpoch);
    }

    public String property(String name) {
        String value = properties.get(name);
        if (value == null) {
            throw new IllegalArgumentException("domain " + id + " has no property '" + name + "'");
        }
        return value;
    }

    public String property(String name, String defaultValue) {
        return properties.getOrDefault(name, defaultValue);
    }

    public Path path(String name) {
        return Path.of(property(name));
    }

    public long size(String name) {
        return Sizes.parse(property(name));
    }

    public boolean bool(String name) {
        return Boolean.parseBoolean(property(name, "false"));
    }

    @Override
    public String toString() {
        return "DomainContext[id=" + id + ", epoch=" + epoch + ", properties=" + properties.keySet() + "]";
    }
}
