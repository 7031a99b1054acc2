package io.storagebus.driver;

/**
 * The fencing epoch of an SPM term: the only writer of a domain's metadata is the term with the
 * highest epoch that has written it. {@link #UNFENCED} is no term at all: reads, validation, a
 * host's own activation of a volume, tools that run outside the SPM. A fenced write is refused
 * with {@link FencedException} once a higher epoch has written the domain.
 */
public record Epoch(long value) implements Comparable<Epoch> {
    /** No SPM term: the operation writes no pool metadata and is not fenced. */
    public static final Epoch UNFENCED = new Epoch(0);

    public Epoch {
        if (value < 0) {
            throw new IllegalArgumentException("an epoch is not negative: " + value);
        }
    }

    /** The epoch of an SPM term (terms count from 1). */
    public static Epoch of(long value) {
        return value == 0 ? UNFENCED : new Epoch(value);
    }

    public boolean isFenced() {
        return value > 0;
    }

    public boolean isOlderThan(Epoch other) {
        return value < other.value;
    }

    @Override
    public int compareTo(Epoch other) {
        return Long.compare(value, other.value);
    }

    @Override
    public String toString() {
        return isFenced() ? "epoch " + value : "unfenced";
    }
}
