package io.storagebus.manager.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.bus.Envelopes;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.BackupStatus;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import org.junit.jupiter.api.Test;

class BackupPlanTest {
    private static final Envelope ENVELOPE = Envelopes.origin("default", "test", "c");
    private static final Instant T0 = Instant.parse("2026-11-21T10:00:00Z");
    private static final String TARGET = "s3";

    private final List<SnapshotRef> snapshots = new ArrayList<>();
    private final List<BackupState> backups = new ArrayList<>();

    @Test
    void firstRunTakesASnapshotNamedForItsTime() {
        BackupPlan.Step step = BackupPlan.next(policy(7, 3, null), volume(), backups, null, false, T0);
        assertEquals(new BackupPlan.TakeSnapshot("scheduled-20261121-100000"), step);
    }

    @Test
    void theNewestScheduledSnapshotIsBackedUpWholeWithoutABase() {
        snapshot("s1", null, 0);
        assertEquals(new BackupPlan.BackUp("s1", false), next(policy(7, 3, null), T0.plusSeconds(1)));
    }

    @Test
    void aSnapshotOnTopOfABackedUpOneIsIncrementalUntilTheChainIsFullEveryLong() {
        snapshot("s1", null, 0);
        backup("b1", "s1", BackupStatus.COMPLETE, 0);
        snapshot("s2", "s1", 3600);
        assertEquals(new BackupPlan.BackUp("s2", true), next(policy(3, 9, null), T0.plusSeconds(3601)));
        assertEquals(new BackupPlan.BackUp("s2", false), next(policy(1, 9, null), T0.plusSeconds(3601)), "fullEvery 1: always whole");

        backups.set(0, BackupState.newBuilder(backups.get(0)).setChain(List.of("b0")).build());
        assertEquals(new BackupPlan.BackUp("s2", false), next(policy(2, 9, null), T0.plusSeconds(3601)),
                "b1 is the second of its chain already, so with fullEvery 2 the next one is whole");
    }

    @Test
    void olderScheduledSnapshotsAreMergedOnceANewerOneIsBackedUpButTheNewestAndItsBaseStay() {
        snapshot("s1", null, 0);
        backup("b1", "s1", BackupStatus.COMPLETE, 0);
        snapshot("s2", "s1", 3600);
        snapshot("mine", "s2", 3700);
        backup("b2", "s2", BackupStatus.COMPLETE, 3600);
        snapshot("s3", "mine", 7200);
        assertEquals(new BackupPlan.MergeSnapshot("s1"), next(policy(7, 9, null), T0.plusSeconds(7201)));
        snapshots.remove(0);
        assertEquals(new BackupPlan.BackUp("s3", false), next(policy(7, 9, null), T0.plusSeconds(7201)),
                "s3 is a difference to a snapshot of the user's, not to a backed-up one: whole");
    }

    @Test
    void aFailedBackupsSnapshotIsMergedAwaySoTheNextIncrementalStandsOnTheLastGoodOne() {
        snapshot("s1", null, 0);
        backup("b1", "s1", BackupStatus.COMPLETE, 0);
        snapshot("s2", "s1", 3600);
        backup("b2", "s2", BackupStatus.FAILED, 3600);
        assertInstanceOf(BackupPlan.Wait.class, next(policy(7, 9, null), T0.plusSeconds(3700)), "a failed run waits for the next");
        snapshot("s3", "s2", 7200);
        assertEquals(new BackupPlan.MergeSnapshot("s2"), next(policy(7, 9, null), T0.plusSeconds(7201)));
        snapshots.remove(1);
        snapshots.set(1, SnapshotRef.newBuilder(snapshots.get(1)).setParentSnapshotId("s1").build());
        assertEquals(new BackupPlan.BackUp("s3", true), next(policy(7, 9, null), T0.plusSeconds(7201)));
    }

    @Test
    void retentionDeletesLeavesFirstAndKeepsWhatAKeptBackupStandsOn() {
        snapshot("s5", null, 5 * 3600);
        backup("f1", "x1", BackupStatus.COMPLETE, 0);
        backup("i1", "x2", BackupStatus.COMPLETE, 3600, "f1");
        backup("i2", "x3", BackupStatus.COMPLETE, 7200, "f1", "i1");
        backup("f2", "x4", BackupStatus.COMPLETE, 3 * 3600);
        backup("i3", "s5", BackupStatus.COMPLETE, 5 * 3600, "f2");
        BackupPlan.Step step = next(policy(7, 2, null), T0.plusSeconds(5 * 3600 + 60));
        assertEquals("i2", ((BackupPlan.DeleteBackup) step).backup().getBackupId(), "the leaf of the expired chain goes first");
        backups.removeIf(b -> b.getBackupId().equals("i2"));
        assertEquals("i1", ((BackupPlan.DeleteBackup) next(policy(7, 2, null), T0.plusSeconds(5 * 3600 + 60))).backup().getBackupId());

        backups.clear();
        backup("f1", "x1", BackupStatus.COMPLETE, 0);
        backup("i1", "x2", BackupStatus.COMPLETE, 3600, "f1");
        backup("i2", "s5", BackupStatus.COMPLETE, 5 * 3600, "f1", "i1");
        assertInstanceOf(BackupPlan.Wait.class, next(policy(7, 1, null), T0.plusSeconds(5 * 3600 + 60)),
                "keeping only the newest keeps the whole chain it is restored on top of");
    }

    @Test
    void requestedBackupsAreNeverRetentionsToDeleteAndFailedOnesGoOnceANewerIsComplete() {
        snapshot("s2", null, 7200);
        backup("mine", "x0", BackupStatus.COMPLETE, 0);
        backups.set(0, BackupState.newBuilder(backups.get(0)).setScheduled(false).build());
        backup("broken", "x1", BackupStatus.FAILED, 3600);
        backup("b2", "s2", BackupStatus.COMPLETE, 7200);
        BackupPlan.Step step = next(policy(7, 1, null), T0.plusSeconds(7300));
        assertEquals("broken", ((BackupPlan.DeleteBackup) step).backup().getBackupId());
        backups.remove(1);
        assertInstanceOf(BackupPlan.Wait.class, next(policy(7, 1, null), T0.plusSeconds(7300)));
    }

    @Test
    void backupsYoungerThanKeepForStayBeyondTheCountAndTheScheduleWakesWhenTheyExpire() {
        snapshot("s2", null, 600);
        backup("b1", "x1", BackupStatus.COMPLETE, 0);
        backup("b2", "s2", BackupStatus.COMPLETE, 600);
        BackupPolicy policy = policy(1, 1, 1800L);
        BackupPlan.Wait wait = (BackupPlan.Wait) BackupPlan.next(policy, volume(), backups, T0.plusSeconds(600), false, T0.plusSeconds(700));
        assertEquals(T0.plusSeconds(1800), wait.until(), "b1 expires before the next run is due");
        BackupPlan.Step later = BackupPlan.next(policy, volume(), backups, T0.plusSeconds(600), false, T0.plusSeconds(1800));
        assertEquals("b1", ((BackupPlan.DeleteBackup) later).backup().getBackupId());
    }

    @Test
    void waitsWhileBusyOrNotReadyAndDropsThePolicyOfAVolumeThatIsGone() {
        snapshot("s1", null, 0);
        assertNull(((BackupPlan.Wait) BackupPlan.next(policy(7, 3, null), volume(), backups, null, true, T0)).until());
        snapshots.set(0, SnapshotRef.newBuilder(snapshots.get(0)).setStatus("MERGING").build());
        assertInstanceOf(BackupPlan.Wait.class, next(policy(7, 3, null), T0));
        VolumeState deleting = VolumeState.newBuilder(volume()).setStatus(VolumeStatus.DELETING).build();
        assertInstanceOf(BackupPlan.Wait.class, BackupPlan.next(policy(7, 3, null), deleting, backups, null, false, T0));
        assertEquals(new BackupPlan.RemovePolicy(), BackupPlan.next(policy(7, 3, null), null, backups, null, false, T0));
    }

    @Test
    void lastRunIsTheNewestScheduledSnapshotOrBackupAndTheNextWaitsForTheInterval() {
        snapshot("s1", null, 0);
        backup("b1", "s1", BackupStatus.COMPLETE, 5);
        Instant last = BackupPlan.lastRun(volume(), backups);
        assertEquals(T0.plusSeconds(5), last);
        BackupPlan.Wait wait = (BackupPlan.Wait) BackupPlan.next(policy(7, 3, null), volume(), backups, last, false, T0.plusSeconds(60));
        assertEquals(T0.plusSeconds(3605), wait.until());
        BackupPlan.Step due = BackupPlan.next(policy(7, 3, null), volume(), backups, last, false, T0.plusSeconds(3605));
        assertTrue(due instanceof BackupPlan.TakeSnapshot t && t.name().startsWith(BackupPlan.SNAPSHOT_PREFIX), due.toString());
    }

    private BackupPlan.Step next(BackupPolicy policy, Instant now) {
        return BackupPlan.next(policy, volume(), backups, BackupPlan.lastRun(volume(), backups), false, now);
    }

    private static BackupPolicy policy(int fullEvery, int keepLast, Long keepForSeconds) {
        return BackupPolicy.newBuilder().setEnvelope(ENVELOPE).setVolumeId("v").setTargetDomainId(TARGET).setIntervalSeconds(3600)
                .setFullEvery(fullEvery).setKeepLast(keepLast).setKeepForSeconds(keepForSeconds).setCreatedAt(T0).build();
    }

    private VolumeState volume() {
        return VolumeState.newBuilder().setEnvelope(ENVELOPE).setId("v").setDomainId("files").setName("disk").setVirtualSize(1 << 20)
                .setFormat(VolumeFormat.QCOW2).setAllocation(Allocation.THIN).setStatus(VolumeStatus.READY).setTaskId("t")
                .setCreatedAt(T0).setSnapshots(new ArrayList<>(snapshots)).build();
    }

    private void snapshot(String id, String parent, long at) {
        String name = id.startsWith("s") ? BackupPlan.SNAPSHOT_PREFIX + id : id;
        snapshots.add(SnapshotRef.newBuilder().setSnapshotId(id).setName(name).setStatus("READY").setParentSnapshotId(parent)
                .setCreatedAt(T0.plusSeconds(at)).build());
    }

    private void backup(String id, String snapshotId, BackupStatus status, long at, String... chain) {
        backups.add(BackupState.newBuilder().setEnvelope(ENVELOPE).setBackupId(id).setTaskId("task-" + id).setVolumeId("v")
                .setVolumeName("disk").setDomainId("files").setTargetDomainId(TARGET).setSnapshotId(snapshotId).setVirtualSize(1 << 20)
                .setBaseBackupId(chain.length == 0 ? null : chain[chain.length - 1]).setChain(List.of(chain)).setStatus(status)
                .setCreatedAt(T0.plusSeconds(at)).setScheduled(true).build());
    }
}
