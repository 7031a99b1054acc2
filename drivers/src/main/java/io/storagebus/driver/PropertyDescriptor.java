package io.storagebus.driver;

import java.util.List;

/**
 * Describes one property of a domain's bag: enough to validate it and to show it in a UI.
 *
 * @param defaultValue used when the property is absent; null for none
 * @param allowedValues for {@link PropertyType#ENUM}: the values; for {@link PropertyType#URI}: the schemes
 * @param min for INT and SIZE: the smallest value allowed, or null
 * @param max for INT and SIZE: the largest value allowed, or null
 * @param pattern for STRING and SECRET: a regular expression the whole value must match, or null
 */
public record PropertyDescriptor(String name, PropertyType type, boolean required, String defaultValue, String description,
                                 List<String> allowedValues, Long min, Long max, String pattern) {

    public PropertyDescriptor {
        allowedValues = allowedValues == null ? List.of() : List.copyOf(allowedValues);
    }

    public static PropertyDescriptor required(String name, PropertyType type, String description) {
        return new PropertyDescriptor(name, type, true, null, description, List.of(), null, null, null);
    }

    public static PropertyDescriptor optional(String name, PropertyType type, String defaultValue, String description) {
        return new PropertyDescriptor(name, type, false, defaultValue, description, List.of(), null, null, null);
    }

    public PropertyDescriptor withRange(Long min, Long max) {
        return new PropertyDescriptor(name, type, required, defaultValue, description, allowedValues, min, max, pattern);
    }

    public PropertyDescriptor withAllowed(List<String> values) {
        return new PropertyDescriptor(name, type, required, defaultValue, description, values, min, max, pattern);
    }

    public PropertyDescriptor withPattern(String regex) {
        return new PropertyDescriptor(name, type, required, defaultValue, description, allowedValues, min, max, regex);
    }

    public boolean secret() {
        return type == PropertyType.SECRET;
    }
}
