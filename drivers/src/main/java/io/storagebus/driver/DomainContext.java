package io.storagebus.driver;

import java.nio.file.Path;
import java.util.Map;

/**
 * The domain a driver operation works on: its id, validated property bag (defaults applied),
 * and the fencing epoch of the SPM term the operation runs under. A write whose epoch is older
 * than the newest the domain has seen is refused with {@link FencedException} (see
 * {@link FencedDriver}); {@link Epoch#UNFENCED} is "no SPM term": reads, validation, hosts, tools.
 * {@link #toString()} leaves the bag out, so secrets cannot reach a log through it.
 */
public record DomainContext(String id, Map<String, String> properties, Epoch epoch) {

    public DomainContext {
        properties = Map.copyOf(properties);
        java.util.Objects.requireNonNull(epoch, "epoch (Epoch.UNFENCED when there is no SPM term)");
    }

    public DomainContext(String id, Map<String, String> properties) {
        this(id, properties, Epoch.UNFENCED);
    }

    /** The same domain under an SPM term's epoch. */
    public DomainContext withEpoch(Epoch termEpoch) {
        return new DomainContext(id, properties, termEpoch);
    }

    /** The same domain under the epoch of SPM term number {@code termEpoch}. */
    public DomainContext withEpoch(long termEpoch) {
        return withEpoch(Epoch.of(termEpoch));
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
