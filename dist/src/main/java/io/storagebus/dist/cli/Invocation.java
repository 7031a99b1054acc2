package io.storagebus.dist.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.storagebus.driver.Sizes;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** One run of a verb: its positional arguments, its options, where it prints, and its API client. */
final class Invocation {
    /** The command line does not fit the verb. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    private final List<String> args;
    private final Map<String, List<String>> options;
    private final Map<String, String> env;
    private final PrintStream out;
    private final PrintStream err;
    private final String output;
    private ApiClient api;

    private Invocation(List<String> args, Map<String, List<String>> options, Map<String, String> env, PrintStream out, PrintStream err) {
        this.args = args;
        this.options = options;
        this.env = env;
        this.out = out;
        this.err = err;
        this.output = optionOr("output", "table");
        if (!output.equals("table") && !output.equals("json")) {
            throw new UsageException("--output must be table or json, got '" + output + "'");
        }
    }

    static Invocation parse(Cli.Verb verb, List<String> rest, Map<String, String> env, PrintStream out, PrintStream err) {
        List<String> args = new ArrayList<>();
        Map<String, List<String>> options = new LinkedHashMap<>();
        for (int i = 0; i < rest.size(); i++) {
            String a = rest.get(i);
            if (!a.startsWith("--")) {
                args.add(a);
                continue;
            }
            String name = a.substring(2);
            // A flag is written "[--name]" in the verb's usage: it takes no value.
            if (verb.usage().contains("[--" + name + "]")) {
                options.computeIfAbsent(name, k -> new ArrayList<>()).add("true");
                continue;
            }
            int eq = name.indexOf('=');
            String value;
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < rest.size()) {
                value = rest.get(++i);
            } else {
                throw new UsageException("option --" + name + " needs a value");
            }
            if (!List.of("url", "output", "token", "ca-file", "bootstrap-servers").contains(name) && !verb.usage().contains("--" + name)) {
                throw new UsageException("unknown option --" + name);
            }
            options.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
        }
        return new Invocation(args, options, env, out, err);
    }

    String arg(int index) {
        if (index >= args.size()) {
            throw new UsageException("missing argument " + (index + 1));
        }
        return args.get(index);
    }

    String option(String name) {
        List<String> values = options.get(name);
        return values == null ? null : values.get(values.size() - 1);
    }

    String optionOr(String name, String fallback) {
        String v = option(name);
        return v == null ? fallback : v;
    }

    List<String> options(String name) {
        return options.getOrDefault(name, List.of());
    }

    String required(String name) {
        String v = option(name);
        if (v == null) {
            throw new UsageException("--" + name + " is required");
        }
        return v;
    }

    int integer(String name) {
        try {
            return Integer.parseInt(required(name));
        } catch (NumberFormatException e) {
            throw new UsageException("--" + name + " must be a whole number");
        }
    }

    /** A size such as 10G, 512MiB or plain bytes. */
    long size(String name) {
        try {
            return Sizes.parse(required(name));
        } catch (IllegalArgumentException e) {
            throw new UsageException("--" + name + ": " + e.getMessage());
        }
    }

    boolean flag(String name) {
        return options.containsKey(name);
    }

    Map<String, String> env() {
        return env;
    }

    PrintStream out() {
        return out;
    }

    PrintStream err() {
        return err;
    }

    String output() {
        return output;
    }

    ApiClient api() {
        if (api == null) {
            String caFile = optionOr("ca-file", env.get("STORAGEBUS_CA_FILE"));
            api = new ApiClient(optionOr("url", env.getOrDefault("STORAGEBUS_URL", "http://127.0.0.1:8080")), output,
                    optionOr("token", env.get("STORAGEBUS_TOKEN")), caFile == null ? null : java.nio.file.Path.of(caFile));
        }
        return api;
    }

    /** Prints an object: as JSON, or one "key: value" a line. */
    int object(Object json) {
        if (output.equals("json")) {
            out.println(json instanceof JsonObject o ? o.encodePrettily() : ((JsonArray) json).encodePrettily());
            return 0;
        }
        Map<String, Object> rows = new LinkedHashMap<>();
        flatten("", (JsonObject) json, rows);
        int width = rows.keySet().stream().mapToInt(String::length).max().orElse(0);
        rows.forEach((key, value) -> out.printf("%-" + width + "s  %s%n", key, Cli.cell(value)));
        return 0;
    }

    /** A nested object's fields as rows of their own ({@code lease.path}), so none hides in a JSON cell. */
    private static void flatten(String prefix, JsonObject o, Map<String, Object> rows) {
        o.forEach(e -> {
            if (e.getValue() instanceof JsonObject nested && !nested.isEmpty()) {
                flatten(prefix + e.getKey() + ".", nested, rows);
            } else {
                rows.put(prefix + e.getKey(), e.getValue());
            }
        });
    }

    /** Prints an array of objects: as JSON, or as a table of {@code columns}. */
    int table(Object json, String... columns) {
        if (output.equals("json")) {
            return object(json);
        }
        JsonArray rows = (JsonArray) json;
        List<String[]> cells = new ArrayList<>();
        cells.add(java.util.Arrays.stream(columns).map(c -> c.toUpperCase(java.util.Locale.ROOT)).toArray(String[]::new));
        for (Object row : rows) {
            JsonObject r = (JsonObject) row;
            cells.add(java.util.Arrays.stream(columns).map(c -> Cli.cell(r.getValue(c))).toArray(String[]::new));
        }
        int[] widths = new int[columns.length];
        cells.forEach(r -> {
            for (int i = 0; i < r.length; i++) {
                widths[i] = Math.max(widths[i], r[i].length());
            }
        });
        for (String[] r : cells) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                line.append(i == r.length - 1 ? r[i] : String.format("%-" + widths[i] + "s  ", r[i]));
            }
            out.println(line.toString().stripTrailing());
        }
        return 0;
    }
}
