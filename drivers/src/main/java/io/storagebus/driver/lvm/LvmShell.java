package io.storagebus.driver.lvm;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.storagebus.driver.DriverException;

/**
 * One long-lived {@code lvm} shell: commands go in on its standard input a line each, and each
 * line answers with exactly one JSON document on its standard output ({@link LvmConfig}). A
 * command in the shell skips what starting {@code lvm} costs (about 200 ms under the test VM's
 * emulation); it still scans devices and takes the VG's lock itself, so the shell keeps no state
 * another host's command could make stale, and holds no device open between commands.
 *
 * <p>One command at a time. A shell that dies, answers out of frame or takes longer than the
 * timeout is killed and is not used again; the command fails with an I/O error.
 */
final class LvmShell implements AutoCloseable {
    /** lvm2's shell splits a line into at most 64 words; longer commands run as processes. */
    static final int MAX_WORDS = 60;
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9_.,:=/+@%-]+");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ScheduledExecutorService TIMEOUTS = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "lvm-shell-timeouts");
        t.setDaemon(true);
        return t;
    });

    private static final Duration STDERR_SETTLE = Duration.ofMillis(200);
    private static final Duration STDERR_QUIET = Duration.ofMillis(20);

    private final Process process;
    private final Writer commands;
    private final JsonParser answers;
    private final StringBuffer stderr = new StringBuffer();
    private final Duration timeout;
    private volatile boolean broken;
    private volatile boolean timedOut;

    private LvmShell(Process process, Duration timeout) throws IOException {
        this.process = process;
        this.timeout = timeout;
        this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        // Over a Reader: over bytes Jackson reads ahead to detect the encoding, before any command went in.
        this.answers = JSON.getFactory().createParser(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        Thread drain = new Thread(() -> drain(process.getErrorStream()), "lvm-shell-stderr-" + process.pid());
        drain.setDaemon(true);
        drain.start();
    }

    static LvmShell start(Path systemDir, Duration timeout) throws DriverException {
        ProcessBuilder builder = new ProcessBuilder("lvm");
        builder.environment().putAll(Map.of("LVM_SYSTEM_DIR", systemDir.toString(), "LVM_SUPPRESS_FD_WARNINGS", "1"));
        try {
            return new LvmShell(builder.start(), timeout);
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot start an lvm shell (is lvm2 installed?): " + e.getMessage(), e);
        }
    }

    /**
     * The command as one line of the shell, or empty when the shell cannot carry it: lvm2 splits
     * a line at blanks, takes a word in quotes whole and knows no escapes.
     */
    static Optional<String> line(List<String> argv) {
        if (argv.isEmpty() || argv.size() > MAX_WORDS) {
            return Optional.empty();
        }
        StringBuilder line = new StringBuilder();
        for (String word : argv) {
            if (word.indexOf('\n') >= 0 || word.indexOf('\r') >= 0) {
                return Optional.empty();
            }
            if (!line.isEmpty()) {
                line.append(' ');
            }
            if (PLAIN.matcher(word).matches()) {
                line.append(word);
            } else if (word.indexOf('"') < 0) {
                line.append('"').append(word).append('"');
            } else if (word.indexOf('\'') < 0) {
                line.append('\'').append(word).append('\'');
            } else {
                return Optional.empty();
            }
        }
        return Optional.of(line.toString());
    }

    /**
     * The shell had ended before the command reached it (its input was closed: a broken pipe), so
     * the command did not run and can be given to another shell. A shell killed between commands
     * may still look alive until its exit is reaped.
     */
    static final class Undelivered extends DriverException {
        Undelivered(String message, Throwable cause) {
            super(Code.IO_ERROR, message, cause);
        }
    }

    boolean usable() {
        return !broken && process.isAlive();
    }

    /** Runs one command line ({@link #line}) and returns its answer, failed or not. */
    synchronized LvmAnswer run(String command, String line) throws DriverException {
        if (!usable()) {
            throw new DriverException(DriverException.Code.IO_ERROR, "the lvm shell has ended");
        }
        stderr.setLength(0);
        ScheduledFuture<?> watchdog = TIMEOUTS.schedule(() -> {
            timedOut = true;
            broken = true;
            process.destroyForcibly();
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        try {
            try {
                commands.write(line);
                commands.write('\n');
                commands.flush();
            } catch (IOException e) {
                if (timedOut) {
                    throw e; // the watchdog ended it: a timeout, as below
                }
                broken = true;
                process.destroyForcibly();
                throw new Undelivered(command + " not given to the lvm shell, which had ended: " + e.getMessage(), e);
            }
            JsonToken start = answers.nextToken();
            if (start != JsonToken.START_OBJECT) {
                throw new IOException(start == null ? "the shell ended" : "the shell answered out of frame (" + start + ")");
            }
            JsonNode document = JSON.readTree(answers);
            LvmAnswer answer = LvmAnswer.ofShell(command, document, "");
            if (answer.exitCode() == 0) {
                return answer;
            }
            settleStderr();
            return new LvmAnswer(command, document, answer.exitCode(), stderr.toString().trim());
        } catch (IOException e) {
            broken = true;
            process.destroyForcibly();
            String why = timedOut ? "timed out after " + timeout.toSeconds() + " s" : e.getMessage();
            throw new DriverException(DriverException.Code.IO_ERROR, command + " in the lvm shell: " + why + " " + stderr.toString().trim(), e);
        } finally {
            watchdog.cancel(false);
        }
    }

    /**
     * Waits, briefly, for what a failed command wrote on standard error: lvm2 says some failures
     * only there (an unknown option; the answer's log has only "Error during parsing"). The shell
     * wrote it before its answer, but on another pipe, which the drain thread may not have read
     * yet: settled once nothing was added for {@link #STDERR_QUIET}, at most
     * {@link #STDERR_SETTLE}. (The pipe's {@code available()} cannot tell: the stream is locked
     * while the drain thread waits in {@code read}.)
     */
    private void settleStderr() {
        long deadline = System.nanoTime() + STDERR_SETTLE.toNanos();
        synchronized (stderr) {
            int seen = stderr.length();
            for (long left; (left = deadline - System.nanoTime()) > 0; ) {
                try {
                    stderr.wait(Math.max(1, Math.min(STDERR_QUIET.toMillis(), TimeUnit.NANOSECONDS.toMillis(left))));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                if (stderr.length() == seen) {
                    return; // nothing came while it waited: the drain thread's append wakes it
                }
                seen = stderr.length();
            }
        }
    }

    private void drain(InputStream errors) {
        byte[] buffer = new byte[4096];
        try {
            for (int n; (n = errors.read(buffer)) >= 0; ) {
                synchronized (stderr) {
                    if (stderr.length() < 16_384) {
                        stderr.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
                    }
                    stderr.notifyAll(); // a failed command's settleStderr waits for this
                }
            }
        } catch (IOException e) {
            // the shell ended; run() reports it
        }
    }

    /** Ends the shell: end of input is {@code exit} to lvm2. */
    @Override
    public void close() {
        broken = true;
        try {
            commands.close();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (IOException e) {
            process.destroyForcibly();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
