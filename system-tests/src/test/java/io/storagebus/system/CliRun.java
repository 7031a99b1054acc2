package io.storagebus.system;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.Map;

import io.storagebus.dist.cli.Cli;

/** One run of the operator's CLI in this JVM: its exit code and what it printed. */
record CliRun(int exit, String out, String err) {
    static CliRun of(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Cli.run(args, Map.of(), new PrintStream(out, true), new PrintStream(err, true));
        return new CliRun(exit, out.toString(), err.toString());
    }
}
