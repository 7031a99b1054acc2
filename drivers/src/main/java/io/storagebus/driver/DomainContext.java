package io.storagebus.driver;

import java.nio.file.Path;
import java.util.Map;

/**
 * The domain a driver operation works on: its id and validated property bag (defaults applied).
 * {@link #toString()} leaves the bag out, so secrets cannot reach a log through it.
 */
public record DomainContext(String id, Map<String, String> properties) {

    public DomainContext {
        properties = Map.copyOf(properties);
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
        return "DomainContext[id=" + id + ", properties=" + properties.keySet() + "]";
    }
}
