package io.storagebus.dist.config;

import java.util.List;
import java.util.stream.Collectors;

/** The configuration cannot be used; every problem is listed. */
public final class ConfigException extends RuntimeException {
    private final List<Configuration.Problem> problems;

    public ConfigException(List<Configuration.Problem> problems) {
        super(problems.stream().map(Configuration.Problem::toString).collect(Collectors.joining("\n")));
        this.problems = List.copyOf(problems);
    }

    public List<Configuration.Problem> problems() {
        return problems;
    }
}
