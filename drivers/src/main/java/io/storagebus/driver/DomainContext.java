package io.storagebus.driver;

import java.util.Map;

/** The domain a driver operation works on: its id and validated property bag. */
public record DomainContext(String id, Map<String, String> properties) {

    public String property(String name) {
        String value = properties.get(name);
        if (value == null) {
            throw new IllegalArgumentException("domain " + id + " has no property '" + name + "'");
        }
        return value;
    }
}
