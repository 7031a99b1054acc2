package io.storagebus.manager.backup;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.BackupStatus;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;

/**
 * What a volume's backup policy wants done next, decided from the volume's state and backups
 * alone. One step at a time, in this order: merge away scheduled snapshots no backup needs any
 * more, back up the newest scheduled snapshot, delete backups retention lets go, and when the
 * interval has passed take the next snapshot. Keeping the newest scheduled snapshot with a
 * complete backup is what lets the next backup be incremental: the next snapshot's layer is
 * exactly the difference to it.
 */
public final class BackupPlan {
    /** Names of the snapshots a policy takes; the REST API refuses them to people. */
    public static final String SNAPSHOT_PREFIX = "scheduled-";
    private static final DateTimeFormatter SNAPSHOT_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

    /** The next step of a policy. */
    public sealed interface Step {
    }

    /** Nothing to do until something about the volume changes, or until {@code until} (null: no time of its own). */
    public record Wait(Instant until, String why) implements Step {
    }

    public record TakeSnapshot(String name) implements Step {
    }

    public record BackUp(String snapshotId, boolean incremental) implements Step {
    }

    public record MergeSnapshot(String snapshotId) implements Step {
    }

    public record DeleteBackup(BackupState backup) implements Step {
    }

    /** The volume is gone: so is its policy (its backups stay). */
    public record RemovePolicy() implements Step {
    }

    private BackupPlan() {
    }

    /**
     * @param volume  the volume, or null once it is deleted
     * @param backups every backup of the volume
     * @param lastRun when the policy last took a snapshot, or null if never
     * @param busy    whether the chain may not change now: a task of the volume is under way, or clones stand on it
     */
    public static Step next(BackupPolicy policy, VolumeState volume, Collection<BackupState> backups, Instant lastRun, boolean busy,
                            Instant now) {
        if (volume == null) {
            return new RemovePolicy();
        }
        if (volume.getStatus() != VolumeStatus.READY) {
            return new Wait(null, "volume is " + volume.getStatus());
        }
        if (busy || backups.stream().anyMatch(b -> b.getStatus() == BackupStatus.RUNNING)
                || volume.getSnapshots().stream().anyMatch(s -> !"READY".equals(s.getStatus()))) {
            return new Wait(null, "a task of the volume is under way");
        }
        List<SnapshotRef> scheduled = volume.getSnapshots().stream().filter(s -> s.getName().startsWith(SNAPSHOT_PREFIX)).toList();
        Optional<SnapshotRef> newest = scheduled.stream().reduce((a, b) -> b);
        Optional<SnapshotRef> newestBackedUp = scheduled.stream()
                .filter(s -> completeBackupOf(policy, backups, s.getSnapshotId()).isPresent()).reduce((a, b) -> b);
        Optional<SnapshotRef> obsolete = scheduled.stream()
                .filter(s -> !s.equals(newest.orElse(null)) && !s.equals(newestBackedUp.orElse(null))).findFirst();
        if (obsolete.isPresent()) {
            return new MergeSnapshot(obsolete.get().getSnapshotId());
        }
        if (newest.isPresent() && backups.stream().noneMatch(b -> b.getSnapshotId().equals(newest.get().getSnapshotId())
                && b.getTargetDomainId().equals(policy.getTargetDomainId()))) {
            return new BackUp(newest.get().getSnapshotId(), incremental(policy, backups, newest.get()));
        }
        Optional<BackupState> expired = expired(policy, backups, now);
        if (expired.isPresent()) {
            return new DeleteBackup(expired.get());
        }
        Instant due = lastRun == null ? now : lastRun.plusSeconds(policy.getIntervalSeconds());
        if (!due.isAfter(now)) {
            return new TakeSnapshot(SNAPSHOT_PREFIX + SNAPSHOT_TIME.format(now));
        }
        Instant wake = Stream.concat(Stream.of(due), nextExpiry(policy, backups, now).stream()).min(Comparator.naturalOrder()).orElseThrow();
        return new Wait(wake, "next run at " + due);
    }

    /** When the policy last ran: its newest scheduled snapshot or scheduled backup, whichever is newer. */
    public static Instant lastRun(VolumeState volume, Collection<BackupState> backups) {
        Stream<Instant> snapshots = volume == null ? Stream.empty() : volume.getSnapshots().stream()
                .filter(s -> s.getName().startsWith(SNAPSHOT_PREFIX)).map(SnapshotRef::getCreatedAt);
        return Stream.concat(snapshots, backups.stream().filter(BackupState::getScheduled).map(BackupState::getCreatedAt))
                .max(Comparator.naturalOrder()).orElse(null);
    }

    /**
     * Incremental when the snapshot's layer is a difference to a snapshot whose complete backup is
     * in the policy's domain, and the chain stays shorter than {@code fullEvery}.
     */
    private static boolean incremental(BackupPolicy policy, Collection<BackupState> backups, SnapshotRef snapshot) {
        if (snapshot.getParentSnapshotId() == null) {
            return false;
        }
        return completeBackupOf(policy, backups, snapshot.getParentSnapshotId())
                .filter(base -> base.getChain().size() + 2 <= policy.getFullEvery()).isPresent();
    }

    private static Optional<BackupState> completeBackupOf(BackupPolicy policy, Collection<BackupState> backups, String snapshotId) {
        return backups.stream().filter(b -> b.getStatus() == BackupStatus.COMPLETE && b.getSnapshotId().equals(snapshotId)
                && b.getTargetDomainId().equals(policy.getTargetDomainId())).max(Comparator.comparing(BackupState::getCreatedAt));
    }

    /**
     * A scheduled backup retention lets go, that no other backup is restored on top of: complete
     * ones beyond the newest {@code keepLast} and older than {@code keepFor}, failed ones once a
     * newer scheduled backup is complete. Backups a kept one stands on are kept too.
     */
    private static Optional<BackupState> expired(BackupPolicy policy, Collection<BackupState> backups, Instant now) {
        List<BackupState> complete = scheduledComplete(backups);
        Set<String> kept = new HashSet<>();
        for (int i = 0; i < complete.size(); i++) {
            BackupState b = complete.get(i);
            if (i < policy.getKeepLast() || (policy.getKeepForSeconds() != null
                    && b.getCreatedAt().plusSeconds(policy.getKeepForSeconds()).isAfter(now))) {
                kept.add(b.getBackupId());
                kept.addAll(b.getChain());
            }
        }
        Instant newestComplete = complete.isEmpty() ? null : complete.get(0).getCreatedAt();
        return backups.stream()
                .filter(BackupState::getScheduled)
                .filter(b -> b.getStatus() == BackupStatus.COMPLETE ? !kept.contains(b.getBackupId())
                        : b.getStatus() == BackupStatus.FAILED && newestComplete != null && b.getCreatedAt().isBefore(newestComplete))
                .filter(b -> backups.stream().noneMatch(other -> other.getChain().contains(b.getBackupId())))
                .min(Comparator.comparing(BackupState::getCreatedAt));
    }

    /** When the next backup kept only by its age may go (a past expiry held back by a dependent backup is no reason to wake). */
    private static Optional<Instant> nextExpiry(BackupPolicy policy, Collection<BackupState> backups, Instant now) {
        if (policy.getKeepForSeconds() == null) {
            return Optional.empty();
        }
        return scheduledComplete(backups).stream().skip(policy.getKeepLast())
                .map(b -> b.getCreatedAt().plusSeconds(policy.getKeepForSeconds())).filter(t -> t.isAfter(now)).min(Comparator.naturalOrder());
    }

    /** Complete scheduled backups, newest first. */
    private static List<BackupState> scheduledComplete(Collection<BackupState> backups) {
        return backups.stream().filter(b -> b.getScheduled() && b.getStatus() == BackupStatus.COMPLETE)
                .sorted(Comparator.comparing(BackupState::getCreatedAt).reversed()).toList();
    }
}
