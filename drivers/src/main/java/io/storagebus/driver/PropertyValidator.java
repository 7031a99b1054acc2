package io.storagebus.driver;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks a property bag against a driver's descriptors, then runs the driver's own runtime
 * validation, so that no domain is persisted with a bag its driver cannot use.
 */
public final class PropertyValidator {
    private PropertyValidator() {
    }

    /** The bag with defaults applied, or the violations found. */
    public static Result validate(StorageDriver driver, Map<String, String> bag) {
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
            PropertyViolation typeError = checkType(d, value);
            if (typeError != null) {
                violations.add(typeError);
            } else {
                effective.put(d.name(), value);
            }
        }
        if (violations.isEmpty()) {
            violations.addAll(driver.validate(effective));
        }
        return new Result(Map.copyOf(effective), List.copyOf(violations));
    }

    private static PropertyViolation checkType(PropertyDescriptor d, String value) {
        switch (d.type()) {
            case PATH -> {
                try {
                    if (!Path.of(value).isAbsolute()) {
                        return new PropertyViolation(d.name(), "NOT_ABSOLUTE", d.name() + " must be an absolute path, got '" + value + "'");
                    }
                } catch (InvalidPathException e) {
                    return new PropertyViolation(d.name(), "INVALID_PATH", d.name() + " is not a valid path: " + e.getMessage());
                }
            }
            case INT -> {
                try {
                    Long.parseLong(value);
                } catch (NumberFormatException e) {
                    return new PropertyViolation(d.name(), "NOT_AN_INTEGER", d.name() + " must be an integer, got '" + value + "'");
                }
            }
            case BOOL -> {
                if (!value.equals("true") && !value.equals("false")) {
                    return new PropertyViolation(d.name(), "NOT_A_BOOLEAN", d.name() + " must be true or false, got '" + value + "'");
                }
            }
            default -> {
                // STRING, SIZE, ENUM, URI and SECRET get their full checks with the driver model (issue 3)
            }
        }
        return null;
    }

    public record Result(Map<String, String> properties, List<PropertyViolation> violations) {
        public boolean valid() {
            return violations.isEmpty();
        }
    }
}
