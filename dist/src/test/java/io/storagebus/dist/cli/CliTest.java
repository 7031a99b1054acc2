package io.storagebus.dist.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.Map;

import org.junit.jupiter.api.Test;

class CliTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Cli.run(args, Map.of(), new PrintStream(out, true), new PrintStream(err, true));
    }

    @Test
    void everyVerbHasHelpAndMisuseSaysWhatIsWrong() {
        assertEquals(0, run("volumes", "create", "--help"));
        assertTrue(out.toString().startsWith("usage: storagebus volumes create DOMAIN_ID --name NAME --size BYTES"), out.toString());
        out.reset();
        assertEquals(0, run("volumes", "--help"));
        assertTrue(out.toString().contains("usage: storagebus volumes show VOLUME_ID") && out.toString().contains("usage: storagebus volumes delete"),
                "a noun's help tells all its verbs, not only the one it does by default: " + out);
        assertEquals(2, run("volumes", "frob"));
        assertTrue(err.toString().contains("unknown verb 'frob'"), err.toString());
        assertEquals(2, run("nothing"));
        assertTrue(err.toString().contains("unknown command 'nothing'"), err.toString());
        assertEquals(2, run("volumes", "create", "d", "--name", "x", "--size", "lots", "--url", "http://127.0.0.1:9"));
        assertTrue(err.toString().contains("--size"), err.toString());
        assertEquals(2, run("volumes", "show", "v", "--colour", "red"));
        assertTrue(err.toString().contains("unknown option --colour"), err.toString());
    }

    @Test
    void anUnreachableManagerIsReportedWithTheUrlsTried() {
        assertEquals(1, run("domains", "list", "--url", "http://127.0.0.1:9,http://127.0.0.1:10"));
        assertTrue(err.toString().contains("no manager answered at http://127.0.0.1:9, http://127.0.0.1:10"), err.toString());
    }

    @Test
    void completionCoversNounsVerbsAndOptions() {
        assertEquals(0, run("completion", "bash"));
        String script = out.toString();
        assertTrue(script.contains("complete -F _storagebus storagebus"), script);
        assertTrue(script.contains("maintenance) COMPREPLY=($(compgen -W \"request status cancel activate\""), script);
        assertTrue(script.contains("\"volumes create\") COMPREPLY=($(compgen -W \"--allocation --format --help --name --output --size --url\""), script);
    }
}
