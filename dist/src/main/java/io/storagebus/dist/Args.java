package io.storagebus.dist;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code --name value} options; each can also come from the environment as
 * {@code STORAGEBUS_NAME} (upper case, dashes as underscores). The command line wins.
 */
final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final Map<String, String> env;

    Args(List<String> args, Set<String> known, Map<String, String> env) {
        this.env = env;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (!arg.startsWith("--")) {
                throw new UsageException("unexpected argument '" + arg + "'");
            }
            String name = arg.substring(2);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (!known.contains(name)) {
                throw new UsageException("unknown option --" + name + "; known: " + known.stream().sorted().map(k -> "--" + k).toList());
            }
            if (value == null) {
                if (i + 1 >= args.size()) {
                    throw new UsageException("option --" + name + " needs a value");
                }
                value = args.get(++i);
            }
            values.put(name, value);
        }
    }

    String get(String name, String defaultValue) {
        String value = values.get(name);
        if (value == null) {
            value = env.get("STORAGEBUS_" + name.toUpperCase(Locale.ROOT).replace('-', '_'));
        }
        return value == null ? defaultValue : value;
    }

    String required(String name) {
        String value = get(name, null);
        if (value == null) {
            throw new UsageException("--" + name + " is required (or set STORAGEBUS_" + name.toUpperCase(Locale.ROOT).replace('-', '_') + ")");
        }
        return value;
    }

    int intValue(String name, int defaultValue) {
        String value = get(name, null);
        if (value == null) {
            return defaultValue;
        }
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a number, got '" + value + "'");
        }
    }

    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }
}
