package io.storagebus.dist;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import io.storagebus.dist.config.ConfigException;
import io.storagebus.dist.config.Configuration;
import io.storagebus.dist.config.Setting.Role;

/**
 * {@code storagebus config check [--role manager|worker] FILE}: validates a file without starting
 * anything, naming each wrong key; {@code storagebus config show ROLE [--config FILE] [...]}: prints
 * the values a process would run with and where each comes from.
 */
final class ConfigCommand {
    static final String USAGE = """
            usage: storagebus config check [--role manager|worker|dev] FILE
                   storagebus config show manager|worker|dev [--config FILE] [--KEY VALUE ...]

            check  validates FILE: unknown keys (with the nearest known one), keys another process reads,
                   bad values, duplicates, and missing required keys. The role comes from the keys the
                   file sets (manager.*, worker.* / extend.*, dev.*) unless --role says. Exit 0 when usable,
                   1 with one line per problem.
            show   prints every key of the role with its value and its source (file:line, $VARIABLE,
                   --option or default), after environment variables and options are applied.
            """;

    private ConfigCommand() {
    }

    static int run(List<String> args, Map<String, String> env, PrintStream out, PrintStream err) {
        if (args.isEmpty() || args.contains("--help")) {
            (args.isEmpty() ? err : out).print(USAGE);
            return args.isEmpty() ? 2 : 0;
        }
        return switch (args.get(0)) {
            case "check" -> check(args.subList(1, args.size()), out, err);
            case "show" -> show(args.subList(1, args.size()), env, out, err);
            default -> {
                err.print("storagebus config: unknown subcommand '" + args.get(0) + "'\n" + USAGE);
                yield 2;
            }
        };
    }

    private static int check(List<String> args, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>(args);
        Optional<Role> role = Optional.empty();
        int at = rest.indexOf("--role");
        if (at >= 0 && at + 1 < rest.size()) {
            role = parseRole(rest.get(at + 1));
            if (role.isEmpty()) {
                err.println("storagebus config check: --role must be manager, worker or dev");
                return 2;
            }
            rest.subList(at, at + 2).clear();
        }
        if (rest.size() != 1) {
            err.print(USAGE);
            return 2;
        }
        Path file = Path.of(rest.get(0));
        Optional<Role> inferred = role.or(() -> Configuration.roleOf(file));
        if (inferred.isEmpty()) {
            err.println(file + ": cannot tell whether this is a manager's or a worker's file (it sets keys of both, or of neither); "
                    + "say --role manager|worker");
            return 1;
        }
        List<Configuration.Problem> problems = Configuration.check(file, inferred.get());
        if (problems.isEmpty()) {
            out.println(file + ": ok (" + inferred.get().label() + ")");
            return 0;
        }
        problems.forEach(p -> err.println(p));
        err.println(file + ": " + problems.size() + " problem(s); a " + inferred.get().label() + " would refuse to start with it");
        return 1;
    }

    private static int show(List<String> args, Map<String, String> env, PrintStream out, PrintStream err) {
        Optional<Role> role = args.isEmpty() ? Optional.empty() : parseRole(args.get(0));
        if (role.isEmpty()) {
            err.print(USAGE);
            return 2;
        }
        try {
            Configuration config = Configuration.load(role.get(), args.subList(1, args.size()), env);
            config.effective().forEach((key, value) -> out.printf("%-32s = %-40s # %s%n", key,
                    value.value() == null ? "" : value.value(), value.source()));
            return 0;
        } catch (ConfigException e) {
            e.problems().forEach(p -> err.println(p));
            return 1;
        }
    }

    private static Optional<Role> parseRole(String name) {
        try {
            return Optional.of(Role.valueOf(name.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
