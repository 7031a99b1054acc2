package io.storagebus.worker.thin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import io.storagebus.bus.Envelopes;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.worker.thin.WatchedVolume.GuestState;
import org.junit.jupiter.api.Test;

/** The guest's state machine and the offsets the extend policy reads, without a QEMU. */
class WatchedVolumeTest {
    private static WatchedVolume volume() {
        MonitorVolume cmd = MonitorVolume.newBuilder().setEnvelope(Envelopes.origin("default", "manager:m", "c")).setVolumeId("v")
                .setDomain(DomainRef.newBuilder().setId("d").setDriver("blockfile").setProperties(Map.of()).build()).setHostId("h")
                .setQmpSocket("/run/qmp/vm1.qmp").setNodeName("disk0").setDrive(null).build();
        return new WatchedVolume(cmd, 1 << 30);
    }

    @Test
    void aFullVolumePausesTheGuestOnceAndCountsAsWrittenToTheEnd() {
        WatchedVolume w = volume();
        assertEquals("disk0", w.drive, "the node names the drive when no drive is given");
        assertTrue(w.pause(true, true, 1000));
        assertEquals(GuestState.PAUSED_NO_SPACE, w.guest());
        assertEquals(1 << 30, w.highest, "a guest stopped for space wants at least the whole allocation");
        assertFalse(w.pause(false, true, 2000), "the other failed writes of the same pause are the same pause");
        assertEquals(500, w.pausedMillis(1500));
    }

    @Test
    void oneResumeIsSentPerPauseAndARunningGuestIsNotResumed() {
        WatchedVolume w = volume();
        assertFalse(w.startResume(), "running: nothing to resume");
        w.pause(false, false, 0);
        assertEquals(GuestState.PAUSED, w.guest());
        assertTrue(w.startResume());
        assertFalse(w.startResume(), "a cont is on its way");
        w.resumeEnded();
        w.running();
        assertEquals(GuestState.RUNNING, w.guest());
        assertFalse(w.pauseStartKnown());
    }

    /**
     * Seen in the test VM, where an extend takes seconds: the answer to the second report of one
     * pause came after the guest had filled the first answer's room and stopped again. Resumed
     * on it, the guest failed its write at once, stopped again before the {@code cont} was
     * answered, and the answer then marked it running: no later extend resumed it.
     */
    @Test
    void aGuestStoppedForSpaceResumesOnlyOnMoreRoomAndAPauseDuringItsContStays() {
        WatchedVolume w = volume();
        w.pause(true, true, 0);
        w.answered(1 << 30, false);
        assertFalse(w.startResume(), "an answer that brings no room past where the guest stopped does not resume it");
        w.answered(2L << 30, false);
        assertTrue(w.startResume());
        int pauses = w.pauses();
        w.running(); // QEMU's RESUME event
        w.pause(true, true, 10); // the retried write fails again before the cont is answered
        w.resumeEnded();
        w.resumedAfter(pauses);
        assertEquals(GuestState.PAUSED_NO_SPACE, w.guest(), "the pause during the cont stays");
        assertFalse(w.startResume(), "still no room past 2 GiB");
        w.answered(3L << 30, false);
        assertTrue(w.startResume(), "the next extend resumes it");
        w.resumeEnded();
        w.resumedAfter(w.pauses());
        assertEquals(GuestState.RUNNING, w.guest());
    }

    @Test
    void anAnswerClearsThePendingReportAndTheRateIsSmoothed() {
        WatchedVolume w = volume();
        w.reportedAtNanos = 5;
        w.unanswered = 3;
        w.answered(2L << 30, false);
        assertFalse(w.reportPending());
        assertEquals(0, w.unanswered);
        assertEquals(2L << 30, w.allocation);
        w.answered(1L << 30, true);
        assertEquals(2L << 30, w.allocation, "an allocation never shrinks");
        w.observe(100, 1_000_000_000L);
        w.observe(1100, 2_000_000_000L);
        assertEquals(1000, w.rate);
        w.observe(4100, 3_000_000_000L);
        assertEquals(2000, w.rate, "the mean of 1000/s and 3000/s");
    }
}
