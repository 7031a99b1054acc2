package io.storagebus.dist.config;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

import io.storagebus.bus.Topics;

/**
 * One configuration key: which processes read it, what values it takes, its default, and the
 * environment variable that overrides it ({@code kafka.bootstrap-servers} is
 * {@code STORAGEBUS_KAFKA_BOOTSTRAP_SERVERS}).
 *
 * @param alias the short command-line option that also sets it ({@code --zookeeper}), or null
 * @param defaultValue null when there is none; a required key has none
 */
public record Setting(String key, Set<Role> roles, Type type, String defaultValue, boolean required, String alias,
                      String description) {

    /** The processes of StorageBus that read configuration. */
    public enum Role {
        MANAGER, WORKER, DEV;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** What a value must look like. */
    public enum Type {
        STRING("text") {
            @Override
            Optional<String> check(String v) {
                return v.isBlank() ? Optional.of("must not be empty") : Optional.empty();
            }
        },
        INT("a whole number") {
            @Override
            Optional<String> check(String v) {
                try {
                    return Integer.parseInt(v) < 0 ? Optional.of("must not be negative") : Optional.empty();
                } catch (NumberFormatException e) {
                    return Optional.of("must be a whole number");
                }
            }
        },
        PORT("a TCP port, 0 for any free one") {
            @Override
            Optional<String> check(String v) {
                return INT.check(v).or(() -> Integer.parseInt(v) > 65535 ? Optional.of("must be at most 65535") : Optional.empty());
            }
        },
        SERVERS("host:port[,host:port...]") {
            @Override
            Optional<String> check(String v) {
                return SERVER_LIST.matcher(v).matches() ? Optional.empty() : Optional.of("must be host:port[,host:port...]");
            }
        },
        URL("an http:// or https:// URL") {
            @Override
            Optional<String> check(String v) {
                try {
                    URI uri = URI.create(v);
                    return ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null
                            ? Optional.empty() : Optional.of("must be an http:// or https:// URL with a host");
                } catch (IllegalArgumentException e) {
                    return Optional.of("must be an http:// or https:// URL with a host");
                }
            }
        },
        NAME("lower-case letters, digits and dashes") {
            @Override
            Optional<String> check(String v) {
                return NAME_PATTERN.matcher(v).matches() ? Optional.empty()
                        : Optional.of("must be lower-case letters, digits and dashes (" + NAME_PATTERN.pattern() + ")");
            }
        },
        HOST_ID("letters, digits, '_', '.' and '-'") {
            @Override
            Optional<String> check(String v) {
                return Topics.HOST_ID.matcher(v).matches() ? Optional.empty()
                        : Optional.of("must be letters, digits, '_', '.' and '-' (" + Topics.HOST_ID.pattern() + ")");
            }
        },
        ON_OFF(List.of("on", "off")),
        API_AUTH(List.of("tokens", "none")),
        KAFKA_PROTOCOL(List.of("SASL_SSL", "SSL", "SASL_PLAINTEXT", "PLAINTEXT")),
        SASL_MECHANISM(List.of("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")),
        LOG_FORMAT(List.of("text", "json")),
        LOG_LEVEL(List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR")) {
            @Override
            Optional<String> check(String v) {
                return super.check(v.toUpperCase(Locale.ROOT));
            }
        };

        private static final Pattern SERVER_LIST = Pattern.compile("[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5}(,[A-Za-z0-9.\\-\\[\\]:]+:\\d{1,5})*");
        private static final Pattern NAME_PATTERN = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

        private final String description;
        /** The values a choice takes; empty for the other types, which check values their own way. */
        private final List<String> choices;

        Type(String description) {
            this.description = description;
            this.choices = List.of();
        }

        Type(List<String> choices) {
            this.description = String.join(", ", choices.subList(0, choices.size() - 1)) + " or " + choices.get(choices.size() - 1);
            this.choices = choices;
        }

        public String description() {
            return description;
        }

        /** Why {@code value} is not acceptable, if it is not. */
        Optional<String> check(String value) {
            return choices.contains(value) ? Optional.empty() : Optional.of("must be " + description);
        }
    }

    public String envName() {
        return "STORAGEBUS_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    /** Why {@code value} is not acceptable for this key, if it is not. */
    public Optional<String> check(String value) {
        return type.check(value.strip());
    }
}
