package io.storagebus.dist.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.storagebus.dist.config.Setting.Role;

/**
 * The settings of one process, from (strongest first) command-line options, environment
 * variables, the configuration file, and the defaults. The file has one {@code key = value} a
 * line; {@code #} starts a comment. Every problem is reported at once, each naming its key and
 * where the value came from, before anything starts.
 */
public final class Configuration {
    /** A value and where it came from ({@code file.conf:3}, {@code $STORAGEBUS_...}, {@code --option}, default). */
    public record Value(String value, String source) {
    }

    /** One thing wrong with the configuration. */
    public record Problem(String key, String source, String message) {
        @Override
        public String toString() {
            return source + ": " + message;
        }
    }

    private final Role role;
    private final Map<String, Value> values = new LinkedHashMap<>();

    private Configuration(Role role) {
        this.role = role;
    }

    /**
     * Reads the configuration of a {@code role} process.
     *
     * @param args {@code --config FILE}, and {@code --key value} for any key of the role or its short alias
     * @throws ConfigException listing every problem
     */
    public static Configuration load(Role role, List<String> args, Map<String, String> env) {
        Configuration config = new Configuration(role);
        List<Problem> problems = new ArrayList<>();
        Map<String, Value> options = config.options(args, problems);
        Value file = options.remove("config");
        if (file != null) {
            config.values.putAll(readFile(Path.of(file.value()), role, problems));
        }
        for (Setting s : Settings.of(role)) {
            String fromEnv = env.get(s.envName());
            if (fromEnv != null) {
                config.values.put(s.key(), new Value(fromEnv, "$" + s.envName()));
            }
        }
        config.values.putAll(options);
        config.check(problems);
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return config;
    }

    /**
     * Checks a configuration file on its own, for {@code storagebus config check}: unknown keys
     * (with the nearest known one), keys of another process, bad values, duplicates, and the
     * required keys of {@code role}.
     */
    public static List<Problem> check(Path file, Role role) {
        Configuration config = new Configuration(role);
        List<Problem> problems = new ArrayList<>();
        config.values.putAll(readFile(file, role, problems));
        config.check(problems);
        return problems;
    }

    /** The role a file is for, from the keys it sets: worker.* or extend.* keys make it a worker's. */
    public static Optional<Role> roleOf(Path file) {
        List<Problem> ignored = new ArrayList<>();
        Map<String, Value> raw = parse(file, ignored);
        boolean worker = raw.keySet().stream().anyMatch(k -> k.startsWith("worker.") || k.startsWith("extend."));
        boolean manager = raw.keySet().stream().anyMatch(k -> k.startsWith("manager."));
        boolean dev = raw.keySet().stream().anyMatch(k -> k.startsWith("dev."));
        if (worker == manager && !dev) {
            return Optional.empty();
        }
        return Optional.of(dev ? Role.DEV : worker ? Role.WORKER : Role.MANAGER);
    }

    public String string(String key) {
        Value v = values.get(key);
        if (v != null) {
            return v.value().strip();
        }
        return Settings.find(key).map(Setting::defaultValue).orElse(null);
    }

    public int integer(String key) {
        return Integer.parseInt(string(key));
    }

    /** Every key of the role with its value and source, for {@code config show}. */
    public Map<String, Value> effective() {
        Map<String, Value> all = new LinkedHashMap<>();
        for (Setting s : Settings.of(role)) {
            Value v = values.get(s.key());
            all.put(s.key(), v != null ? v : new Value(s.defaultValue(), "default"));
        }
        return all;
    }

    private void check(List<Problem> problems) {
        for (Setting s : Settings.of(role)) {
            Value v = values.get(s.key());
            if (v == null) {
                if (s.required()) {
                    problems.add(new Problem(s.key(), "configuration", "missing required key '" + s.key() + "' (" + s.description()
                            + "; set it in the file, as $" + s.envName() + (s.alias() == null ? "" : " or with --" + s.alias()) + ")"));
                }
                continue;
            }
            s.check(v.value()).ifPresent(why -> problems.add(new Problem(s.key(), v.source(),
                    "'" + s.key() + "' " + why + ", got '" + v.value() + "'")));
        }
        requirePair("zookeeper.digest-user", "zookeeper.digest-password-file", problems);
        requirePair("kafka.ssl-keystore-file", "kafka.ssl-keystore-password-file", problems);
        requirePair("zookeeper.ssl-keystore-file", "zookeeper.ssl-keystore-password-file", problems);
        requirePair("worker.spm-sasl-username", "worker.spm-sasl-password-file", problems);
        requirePair("worker.spm-ssl-keystore-file", "worker.spm-ssl-keystore-password-file", problems);
        // The rules between keys hold only where the role reads those keys: the dev stack's
        // embedded Kafka and ZooKeeper have no security settings at all.
        String protocol = reads("kafka.security-protocol") ? string("kafka.security-protocol") : "";
        if (protocol.startsWith("SASL")) {
            for (String key : List.of("kafka.sasl-username", "kafka.sasl-password-file")) {
                if (values.get(key) == null) {
                    problems.add(new Problem(key, "configuration", "missing '" + key + "': kafka.security-protocol " + protocol
                            + " logs in as a SASL user (see docs/SECURITY.md); to reach a broker that asks nobody, set "
                            + "'kafka.security-protocol = PLAINTEXT', never in production"));
                }
            }
        } else if (protocol.equals("SSL") && values.get("kafka.ssl-keystore-file") == null) {
            problems.add(new Problem("kafka.ssl-keystore-file", "configuration", "missing 'kafka.ssl-keystore-file': "
                    + "kafka.security-protocol SSL makes the client certificate this process's identity"));
        }
        if (role == Role.MANAGER && "on".equals(string("manager.tls"))) {
            for (String key : List.of("manager.tls-keystore-file", "manager.tls-keystore-password-file")) {
                if (values.get(key) == null) {
                    problems.add(new Problem(key, "configuration", "missing '" + key + "': the REST API serves https (a PKCS#12 "
                            + "keystore, see docs/SECURITY.md); to serve plain http, set 'manager.tls = off', never in production"));
                }
            }
        }
        if (reads("zookeeper.tls") && "off".equals(string("zookeeper.tls")) && values.get("zookeeper.ssl-ca-file") != null) {
            problems.add(new Problem("zookeeper.ssl-ca-file", values.get("zookeeper.ssl-ca-file").source(),
                    "'zookeeper.ssl-ca-file' is set but 'zookeeper.tls' is off: say which you mean"));
        }
        if (reads("extend.time-to-full-warning-minutes") && problems.stream().noneMatch(p -> p.key() != null && p.key().startsWith("extend.time-to-full"))
                && (integer("extend.time-to-full-critical-minutes") < 1
                    || integer("extend.time-to-full-critical-minutes") > integer("extend.time-to-full-warning-minutes"))) {
            Value critical = values.get("extend.time-to-full-critical-minutes");
            problems.add(new Problem("extend.time-to-full-critical-minutes", critical == null ? "default" : critical.source(),
                    "the critical time to full must be at least 1 minute and at most the warning ('extend.time-to-full-warning-minutes')"));
        }
        if (reads("commands.signatures") && "on".equals(string("commands.signatures"))) {
            String key = role == Role.MANAGER ? "commands.signing-key-file" : "commands.trusted-keys-file";
            if (values.get(key) == null) {
                problems.add(new Problem(key, "configuration", "missing '" + key + "': workers destroy storage only on a "
                        + "manager's signed command (make the keys with 'storagebus command-keys create --dir DIR'); to go without, "
                        + "set 'commands.signatures = off', never in production"));
            }
        }
        // A manager asks for tokens unless the configuration says, in so many words, that it must not.
        if (role == Role.MANAGER && "tokens".equals(string("manager.api-auth")) && values.get("manager.api-tokens-file") == null) {
            problems.add(new Problem("manager.api-tokens-file", "configuration", "missing 'manager.api-tokens-file': the REST API needs "
                    + "bearer tokens (make one with 'storagebus tokens create --name NAME --role admin'); to run without "
                    + "authentication, set 'manager.api-auth = none', never in production"));
        }
    }

    private boolean reads(String key) {
        return Settings.find(key).map(s -> s.roles().contains(role)).orElse(false);
    }

    /** {@code second} is where {@code first}'s secret is read from, so one without the other is useless. */
    private void requirePair(String first, String second, List<Problem> problems) {
        if (values.get(first) != null && values.get(second) == null) {
            problems.add(new Problem(second, "configuration", "missing '" + second + "': " + first + " needs it"));
        }
    }

    private Map<String, Value> options(List<String> args, List<Problem> problems) {
        Map<String, Value> options = new LinkedHashMap<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (!arg.startsWith("--")) {
                problems.add(new Problem(null, arg, "unexpected argument '" + arg + "'"));
                continue;
            }
            String name = arg.substring(2);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (value == null) {
                if (i + 1 >= args.size()) {
                    problems.add(new Problem(name, arg, "option --" + name + " needs a value"));
                    continue;
                }
                value = args.get(++i);
            }
            if (name.equals("config")) {
                options.put("config", new Value(value, "--config"));
                continue;
            }
            String option = name;
            Optional<Setting> setting = Settings.of(role).stream().filter(s -> s.key().equals(option) || option.equals(s.alias())).findFirst();
            if (setting.isEmpty()) {
                problems.add(new Problem(name, "--" + name, "unknown option --" + name + " for " + role.label() + suggestion(name)));
                continue;
            }
            options.put(setting.get().key(), new Value(value, "--" + name));
        }
        return options;
    }

    private static Map<String, Value> readFile(Path file, Role role, List<Problem> problems) {
        Map<String, Value> read = new LinkedHashMap<>();
        parse(file, problems).forEach((key, value) -> {
            Optional<Setting> setting = Settings.find(key);
            if (setting.isEmpty()) {
                problems.add(new Problem(key, value.source(), "unknown key '" + key + "'" + suggestion(key)));
            } else if (!setting.get().roles().contains(role)) {
                problems.add(new Problem(key, value.source(), "key '" + key + "' is not read by a " + role.label() + " (it is for "
                        + setting.get().roles().stream().map(Role::label).sorted().toList() + ")"));
            } else {
                read.put(key, value);
            }
        });
        return read;
    }

    private static Map<String, Value> parse(Path file, List<Problem> problems) {
        Map<String, Value> read = new LinkedHashMap<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            problems.add(new Problem(null, file.toString(), "cannot read the configuration file: " + e.getMessage()));
            return read;
        }
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            String where = file + ":" + (i + 1);
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                problems.add(new Problem(null, where, "expected 'key = value', got '" + line + "'"));
                continue;
            }
            String key = line.substring(0, eq).strip();
            if (read.containsKey(key)) {
                problems.add(new Problem(key, where, "key '" + key + "' is set twice (also at " + read.get(key).source() + ")"));
                continue;
            }
            read.put(key, new Value(line.substring(eq + 1).strip(), where));
        }
        return read;
    }

    /** The nearest known key, by edit distance, when it is near enough to be a typo. */
    private static String suggestion(String key) {
        return Settings.ALL.stream().map(Setting::key)
                .min(Comparator.comparingInt(k -> distance(k, key)))
                .filter(k -> distance(k, key) <= Math.max(2, key.length() / 4))
                .map(k -> " (did you mean '" + k + "'?)").orElse("");
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
