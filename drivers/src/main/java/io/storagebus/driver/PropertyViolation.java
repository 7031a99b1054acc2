package io.storagebus.driver;

/**
 * One problem with one property of a bag.
 *
 * @param code stable machine-readable code, e.g. {@code REQUIRED}, {@code NOT_ABSOLUTE}
 */
public record PropertyViolation(String property, String code, String message) {
}
