package io.storagebus.driver;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.PatternSyntaxException;

/**
 * Checks a property bag against a driver's descriptors, then runs the driver's own runtime
 * validation, so that no domain is persisted with a bag its driver cannot use. Every problem is
 * reported, one violation per property; messages never quote a secret's value.
 */
public final class PropertyValidator {
    /** No property value is longer: bags are stored in every command and state record. */
    public static final int MAX_VALUE_LENGTH = 4096;

    private PropertyValidator() {
    }

    /** The bag with defaults applied, or the violations found: its shape, then the storage as this process sees it. */
    public static Result validate(StorageDriver driver, Map<String, String> bag) {
        Result shape = checkShape(driver, bag);
        return shape.valid() ? new Result(shape.properties(), List.copyOf(driver.validate(shape.properties()))) : shape;
    }

    /**
     * The bag checked against the descriptors only, with defaults applied: what a process that
     * does not see the storage (a manager) can check. The storage is checked on a host.
     */
    public static Result checkShape(StorageDriver driver, Map<String, String> bag) {
        List<PropertyViolation> violations = new ArrayList<>();
        Map<String, String> effective = new HashMap<>();
        Map<String, PropertyDescriptor> known = new HashMap<>();
        for (PropertyDescriptor d : driver.properties()) {
            known.put(d.name(), d);
        }
        for (String name : bag.keySet()) {
            if (!known.containsKey(name)) {
                violations.add(new PropertyViolation(name, "UNKNOWN_PROPERTY",
                        "driver '" + driver.name() + "' has no property '" + name + "'; it takes " + known.keySet()));
            }
        }
        for (PropertyDescriptor d : driver.properties()) {
            String value = bag.get(d.name());
            if (value == null || value.isEmpty()) {
                if (d.required()) {
                    violations.add(new PropertyViolation(d.name(), "REQUIRED", d.name() + " is required: " + d.description()));
                } else if (d.defaultValue() != null) {
                    effective.put(d.name(), d.defaultValue());
                }
                continue;
            }
            PropertyViolation typeError = value.length() > MAX_VALUE_LENGTH
                    ? new PropertyViolation(d.name(), "TOO_LONG", d.name() + " is longer than " + MAX_VALUE_LENGTH + " characters")
                    : checkType(d, value);
            if (typeError != null) {
                violations.add(typeError);
            } else {
                effective.put(d.name(), value);
            }
        }
        return new Result(Map.copyOf(effective), List.copyOf(violations));
    }

    private static PropertyViolation checkType(PropertyDescriptor d, String value) {
        String shown = d.secret() ? "(secret)" : "'" + value + "'";
        switch (d.type()) {
            case PATH -> {
                try {
                    if (!Path.of(value).isAbsolute()) {
                        return violation(d, "NOT_ABSOLUTE", "must be an absolute path, got " + shown);
                    }
                    String withoutSlash = value.length() > 1 && value.endsWith("/") ? value.substring(0, value.length() - 1) : value;
                    if (!Path.of(value).normalize().toString().equals(withoutSlash)) {
                        return violation(d, "NOT_NORMALIZED", "must not contain '.' or '..' segments, got " + shown);
                    }
                } catch (InvalidPathException e) {
                    return violation(d, "INVALID_PATH", "is not a valid path: " + e.getReason());
                }
            }
            case INT, SIZE -> {
                long number;
                try {
                    number = d.type() == PropertyType.INT ? Long.parseLong(value) : Sizes.parse(value);
                } catch (IllegalArgumentException e) {
                    return violation(d, d.type() == PropertyType.INT ? "NOT_AN_INTEGER" : "NOT_A_SIZE",
                            d.type() == PropertyType.INT ? "must be an integer, got " + shown : e.getMessage());
                }
                if (d.min() != null && number < d.min() || d.max() != null && number > d.max()) {
                    return violation(d, "OUT_OF_RANGE", "must be between " + (d.min() == null ? "-∞" : d.min())
                            + " and " + (d.max() == null ? "∞" : d.max()) + ", got " + shown);
                }
            }
            case BOOL -> {
                if (!value.equals("true") && !value.equals("false")) {
                    return violation(d, "NOT_A_BOOLEAN", "must be true or false, got " + shown);
                }
            }
            case ENUM -> {
                if (!d.allowedValues().contains(value)) {
                    return violation(d, "NOT_ALLOWED", "must be one of " + d.allowedValues() + ", got " + shown);
                }
            }
            case URI -> {
                try {
                    URI uri = new URI(value);
                    if (uri.getScheme() == null || uri.getHost() == null
                            || !d.allowedValues().isEmpty() && !d.allowedValues().contains(uri.getScheme())) {
                        return violation(d, "INVALID_URI", "must be an absolute URI"
                                + (d.allowedValues().isEmpty() ? "" : " with scheme " + d.allowedValues()) + ", got " + shown);
                    }
                } catch (URISyntaxException e) {
                    return violation(d, "INVALID_URI", "is not a URI: " + e.getReason());
                }
            }
            case STRING, SECRET -> {
                try {
                    if (d.pattern() != null && !value.matches(d.pattern())) {
                        return violation(d, "PATTERN_MISMATCH", "must match " + d.pattern() + ", got " + shown);
                    }
                } catch (PatternSyntaxException e) {
                    throw new IllegalStateException("driver declares a bad pattern for " + d.name(), e);
                }
            }
            default -> throw new IllegalStateException("unhandled property type " + d.type());
        }
        return null;
    }

    private static PropertyViolation violation(PropertyDescriptor d, String code, String what) {
        return new PropertyViolation(d.name(), code, d.name() + " " + what);
    }

    public record Result(Map<String, String> properties, List<PropertyViolation> violations) {
        public boolean valid() {
            return violations.isEmpty();
        }
    }
}
