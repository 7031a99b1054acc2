package io.storagebus.worker.thin;

import java.nio.file.Path;

import io.storagebus.bus.Envelopes;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.worker.WorkerConfig;

/**
 * One guest's use of one volume, as the {@link VolumeMonitor} follows it: where the guest writes
 * (its QEMU, the node on the volume), how far and how fast (for the extend policy), whether a
 * report to the SPM waits for its answer, and the guest's own state.
 *
 * <p>The guest's state is a small machine ({@link GuestState}):
 * <pre>
 *   RUNNING --I/O error, stop--> PAUSED            (any error but a full volume: nothing here cures it)
 *   RUNNING --I/O error, nospace--> PAUSED_NO_SPACE (the SPM's extend cures it)
 *   PAUSED* --QEMU resumed (by us or anyone)--> RUNNING
 * </pre>
 * A {@code cont} sent after an extend is {@link #resuming}: the other reports of the same pause
 * (threshold and nospace come together) must not send a second one. Not thread-safe: the
 * monitor touches it on its one context only.
 */
final class WatchedVolume {
    /** What the guest is doing with the volume. */
    enum GuestState {
        RUNNING, PAUSED, PAUSED_NO_SPACE
    }

    final String volumeId;
    /** The domain the guest's layers are in; a live move changes it. */
    DomainRef domain;
    final Path socket;
    /** The QEMU drive (or qdev) of the volume, which I/O error events name. */
    final String drive;
    /** The guest's top node of the volume; a live snapshot moves it to the new layer. */
    String nodeName;

    // What the extend policy looks at.
    long allocation;
    long highest;
    long highestAtNanos;
    long rate;
    /** The armed write threshold, 0 when none is (crossed, or never armed). */
    long threshold;
    /** The volume cannot grow any more (or its driver never grows it): watched for its guest only, never reported. */
    boolean full;
    /** While a live move mirrors onto block storage: the target's top, which grows as the mirror writes to it; null otherwise. */
    MirrorTarget mirrorTarget;

    /** A live move's target top on storage that extends: its node, its domain, its allocation and armed threshold. */
    static final class MirrorTarget {
        final String nodeName;
        final DomainRef domain;
        long allocation;
        long threshold;
        /** The furthest write into it that was reported. */
        long highest;
        /** When a report of it was sent and not answered yet; 0 when none is. */
        long reportedAtNanos;

        MirrorTarget(String nodeName, DomainRef domain, long allocation) {
            this.nodeName = nodeName;
            this.domain = domain;
            this.allocation = allocation;
        }
    }

    // The report to the SPM.
    long reportedAtNanos;
    /** Reports in a row the SPM did not answer (it could not extend, or failed over): the retry backs off. */
    int unanswered;

    // The guest.
    private GuestState guest = GuestState.RUNNING;
    private boolean resuming;
    private long pausedAtMillis;
    /** False when the guest was found paused: then pausedAtMillis is when the host noticed, not when QEMU stopped. */
    private boolean pauseStartKnown;
    /** The allocation the guest ran out of when it last stopped for space. */
    private long pausedAllocation;
    /** Pauses so far: tells a {@code cont}'s answer whether the guest stopped again while it was on its way. */
    private int pauses;

    WatchedVolume(MonitorVolume cmd, long allocation) {
        this.volumeId = cmd.getVolumeId();
        this.domain = cmd.getDomain();
        this.socket = Path.of(cmd.getQmpSocket());
        this.nodeName = cmd.getNodeName();
        this.drive = cmd.getDrive() != null ? cmd.getDrive() : cmd.getNodeName();
        this.allocation = allocation;
    }

    /** The envelope of what the host says about the volume's use: all of it correlates as {@code extend-<volumeId>}. */
    Envelope envelope(WorkerConfig config) {
        return Envelopes.origin(config.pool(), config.issuer(), "extend-" + volumeId);
    }

    boolean reportPending() {
        return reportedAtNanos != 0;
    }

    /** The SPM answered: the volume is as large as it says. */
    void answered(long newAllocation, boolean fullyAllocated) {
        allocation = Math.max(allocation, newAllocation);
        full = fullyAllocated;
        reportedAtNanos = 0;
        unanswered = 0;
    }

    /** A new highest offset; the write rate is smoothed over the readings. */
    void observe(long offset, long nowNanos) {
        if (offset > highest && highestAtNanos != 0) {
            double seconds = (nowNanos - highestAtNanos) / 1e9;
            if (seconds > 0.01) {
                long r = (long) ((offset - highest) / seconds);
                rate = rate == 0 ? r : (rate + r) / 2;
            }
        }
        if (offset > highest || highestAtNanos == 0) {
            highest = Math.max(highest, offset);
            highestAtNanos = nowNanos;
        }
    }

    GuestState guest() {
        return guest;
    }

    boolean paused() {
        return guest != GuestState.RUNNING;
    }

    boolean pausedNoSpace() {
        return guest == GuestState.PAUSED_NO_SPACE;
    }

    /** The guest stopped on an I/O error; false if it was paused already (every request in flight fails alike: one pause). */
    boolean pause(boolean nospace, boolean startKnown, long nowMillis) {
        if (paused()) {
            return false;
        }
        guest = nospace ? GuestState.PAUSED_NO_SPACE : GuestState.PAUSED;
        pausedAtMillis = nowMillis;
        pauseStartKnown = startKnown;
        pauses++;
        if (nospace) {
            highest = Math.max(highest, allocation);
            pausedAllocation = allocation;
        }
        return true;
    }

    /** QEMU runs the guest again. */
    void running() {
        guest = GuestState.RUNNING;
    }

    int pauses() {
        return pauses;
    }

    /**
     * A {@code cont} sent when the guest had paused {@code pausesBefore} times was answered: it
     * runs, unless it stopped again before the answer came (its retried write failed at once),
     * which is a new pause and stays one.
     */
    void resumedAfter(int pausesBefore) {
        if (pauses == pausesBefore) {
            running();
        }
    }

    /**
     * Whether to send {@code cont} now: the guest is paused, none is on its way, and if it stopped
     * for space, the volume has grown since (an answer to an earlier report can arrive after the
     * guest filled what that answer gave: resuming then would only fail the write again). If so,
     * one is on its way from now on.
     */
    boolean startResume() {
        boolean resume = paused() && !resuming && (guest != GuestState.PAUSED_NO_SPACE || allocation > pausedAllocation);
        resuming |= resume;
        return resume;
    }

    /** The {@code cont} came back (either way). */
    void resumeEnded() {
        resuming = false;
    }

    long pausedMillis(long nowMillis) {
        return nowMillis - pausedAtMillis;
    }

    boolean pauseStartKnown() {
        return pauseStartKnown;
    }
}
