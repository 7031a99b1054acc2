package io.storagebus.bench;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Random;

/** What the data benchmarks share: their test data, timing and the tools they run. */
final class BenchSupport {
    private static final int RUN = 16 << 20;

    private BenchSupport() {
    }

    /** A sparse file of {@code size} with {@code data} bytes of random data in 16 MiB runs spread evenly over it; the rest a hole. */
    static void fillRandom(Path file, long size, long data) throws Exception {
        byte[] chunk = new byte[RUN];
        Random random = new Random(42);
        long chunks = data / chunk.length;
        long stride = size / Math.max(1, chunks);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(size);
            for (long i = 0; i < chunks; i++) {
                random.nextBytes(chunk);
                raf.seek(i * stride);
                raf.write(chunk);
            }
        }
    }

    interface Step {
        void run() throws Exception;
    }

    /** Seconds the step took. */
    static double timed(Step step) throws Exception {
        long start = System.nanoTime();
        step.run();
        return (System.nanoTime() - start) / 1e9;
    }

    /** Runs a tool with the benchmark's output; it must succeed. */
    static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed");
        }
    }
}
