package io.storagebus.testkit;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/** Whether a program a test needs is here. */
final class Binaries {
    private Binaries() {
    }

    /** True when {@code command} (a harmless one, such as a version query) runs and succeeds. */
    static boolean run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
