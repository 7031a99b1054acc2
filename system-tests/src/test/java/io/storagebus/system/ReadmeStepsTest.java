package io.storagebus.system;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** How ReadmeIT reads the README's blocks and judges their output: it must be able to fail. */
class ReadmeStepsTest {
    private static final List<String> README = List.of(
            "text",
            "```sh manual",
            "./mvnw verify",
            "```",
            "```sh",
            "A=1",
            "echo \"a=$A   b\"",
            "# => a=… b",
            "false",
            "# => (exit 1)",
            "echo trailing",
            "```",
            "```sh root",
            "losetup -f",
            "```",
            "```python",
            "print(1)",
            "```");

    @Test
    void blocksAreCutIntoStepsAtTheirShownOutput() {
        List<ReadmeIT.Step> steps = ReadmeIT.steps(README, false);
        assertEquals(3, steps.size(), steps.toString());
        assertEquals(List.of("A=1", "echo \"a=$A   b\""), steps.get(0).commands());
        assertEquals(6, steps.get(0).readmeLine());
        assertEquals(1, steps.get(1).expectedExit());
        assertEquals(List.of(), steps.get(2).expected());
        assertEquals(4, ReadmeIT.steps(README, true).size(), "root blocks run where they can");
    }

    @Test
    void outputIsMatchedLineByLineWithEllipsesAndItsExitStatus() {
        List<ReadmeIT.Step> steps = ReadmeIT.steps(README, false);
        String good = "@@step 1\na=1 b\n\n@@status 1 0\n@@step 2\n\n@@status 2 1\n@@step 3\ntrailing\n\n@@status 3 0\n";
        assertEquals(List.of(), ReadmeIT.check(steps, good));

        List<String> failures = ReadmeIT.check(steps, good.replace("a=1 b", "a=1 c").replace("@@status 2 1", "@@status 2 0")
                .replace("@@status 3 0\n", ""));
        assertEquals(3, failures.size(), failures.toString());
        assertTrue(failures.get(0).startsWith("README.md:6 (echo \"a=$A   b\"): no line"), failures.get(0));
        assertTrue(failures.get(1).contains("exit status 0, the README shows 1"), failures.get(1));
        assertTrue(failures.get(2).contains("never finished"), failures.get(2));
        assertTrue(ReadmeIT.shown("{\"id\":\"…\",\"n\":1}").matcher("{\"id\":\"x-y\",\"n\":1}").matches());
        assertFalse(ReadmeIT.shown("{\"id\":\"…\",\"n\":1}").matcher("{\"id\":\"x-y\",\"n\":2}").matches());
    }
}
