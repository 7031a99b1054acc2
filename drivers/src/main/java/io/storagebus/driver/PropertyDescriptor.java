package io.storagebus.driver;

/**
 * Describes one property of a domain's bag.
 *
 * @param defaultValue used when the property is absent; null for none
 */
public record PropertyDescriptor(String name, PropertyType type, boolean required, String defaultValue, String description) {

    public static PropertyDescriptor required(String name, PropertyType type, String description) {
        return new PropertyDescriptor(name, type, true, null, description);
    }
}
