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
