package io.storagebus.bench;

import java.util.Arrays;

/** Command-line options and percentiles, shared by the benchmarks. */
final class Figures {
    private Figures() {
    }

    static String option(String[] args, String name, String defaultValue) {
        int i = Arrays.asList(args).indexOf(name);
        return i >= 0 && i + 1 < args.length ? args[i + 1] : defaultValue;
    }

    /** The p-th percentile of sorted samples (nearest rank). */
    static double pct(double[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100 * sorted.length) - 1)];
    }

    static double max(double[] sorted) {
        return sorted.length == 0 ? Double.NaN : sorted[sorted.length - 1];
    }
}
