package io.storagebus.manager.backup;

import io.storagebus.bus.TaskType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import java.util.function.Supplier;

import io.storagebus.manager.ha.ManagerElection;
import io.storagebus.manager.requests.Submitted;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.BackupStatus;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeState;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the volumes' backup policies on the active manager. Level-triggered: whenever something
 * about a volume with a policy changes (its state, a task, a backup, the policy), and when the
 * policy's next run is due, it asks {@link BackupPlan} for the next step and requests it like a
 * REST client would. Everything it needs to decide is in the state topics, so a manager that
 * takes over carries on where its predecessor stopped; the only thing it remembers itself is the
 * request it is waiting for, until the request's outcome shows in the state.
 */
public final class BackupScheduler implements ManagerElection.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(BackupScheduler.class);
    /** After a refused or failed request: try again after this long (or sooner, if the volume changes). */
    static final Duration RETRY = Duration.ofSeconds(30);
    /** Tasks that change a volume's chain or backups: while one runs, the policy waits. */
    private static final Set<TaskType> CHAIN_TASKS = java.util.EnumSet.of(TaskType.SNAPSHOT_VOLUME, TaskType.DELETE_SNAPSHOT, TaskType.BACKUP_VOLUME, TaskType.DELETE_BACKUP,
            TaskType.DELETE_VOLUME, TaskType.RESTORE_BACKUP);

    /** The requests a policy makes: the same a user makes, each completing once its task is published. */
    public interface Actions {
        Future<Submitted> snapshot(VolumeState volume, String name);

        Future<Submitted> backup(VolumeState volume, String targetDomainId, String snapshotId, boolean incremental);

        Future<Submitted> deleteSnapshot(VolumeState volume, String snapshotId);

        Future<Submitted> deleteBackup(BackupState backup);

        Future<Void> removePolicy(String volumeId);
    }

    /** A request made and not yet visible in the state: its task (once published) and the sign it took effect, given the task. */
    private static final class InFlight {
        private String taskId;
        private final Predicate<String> effectVisible;

        private InFlight(Predicate<String> effectVisible) {
            this.effectVisible = effectVisible;
        }
    }

    private final Vertx vertx;
    private final Context context;
    private final StateView view;
    private final Actions actions;
    private final Clock clock;
    private final Set<String> dirty = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean drainQueued = new AtomicBoolean();
    private volatile boolean active;
    // Touched on the scheduler's context only:
    private final Map<String, InFlight> inFlight = new HashMap<>();
    private final Map<String, Instant> lastRun = new HashMap<>();
    private final Map<String, Long> timers = new HashMap<>();
    private final Map<String, Instant> backOff = new HashMap<>();

    public BackupScheduler(Vertx vertx, StateView view, Actions actions, Clock clock) {
        this.vertx = vertx;
        this.context = vertx.getOrCreateContext();
        this.view = view;
        this.actions = actions;
        this.clock = clock;
        view.onVolumeActivity(this::touched);
    }

    @Override
    public void activate() {
        active = true;
        view.backupPolicies().forEach(p -> dirty.add(p.getVolumeId()));
        queueDrain();
        LOG.info("backup schedule running for {} volumes", view.backupPolicies().size());
    }

    @Override
    public void deactivate() {
        active = false;
        context.runOnContext(v -> {
            timers.values().forEach(vertx::cancelTimer);
            timers.clear();
            inFlight.clear();
            lastRun.clear();
            backOff.clear();
        });
    }

    private void touched(String volumeId) {
        if (active) {
            dirty.add(volumeId);
            queueDrain();
        }
    }

    private void queueDrain() {
        if (drainQueued.compareAndSet(false, true)) {
            context.runOnContext(v -> {
                drainQueued.set(false);
                for (String volumeId : List.copyOf(dirty)) {
                    dirty.remove(volumeId);
                    if (active) {
                        reconcile(volumeId);
                    }
                }
            });
        }
    }

    private void reconcile(String volumeId) {
        Long timer = timers.remove(volumeId);
        if (timer != null) {
            vertx.cancelTimer(timer);
        }
        BackupPolicy policy = view.backupPolicy(volumeId).orElse(null);
        if (policy == null) {
            inFlight.remove(volumeId);
            lastRun.remove(volumeId);
            backOff.remove(volumeId);
            return;
        }
        InFlight pending = inFlight.get(volumeId);
        if (pending != null && !settled(pending)) {
            return;
        }
        inFlight.remove(volumeId);
        Instant now = clock.instant();
        if (pending != null && failed(pending)) {
            // The step may fail again the same way (a merge the storage refuses): not before RETRY.
            backOff.put(volumeId, now.plus(RETRY));
        }
        Instant notBefore = backOff.get(volumeId);
        if (notBefore != null && notBefore.isAfter(now)) {
            wakeAt(volumeId, notBefore);
            return;
        }
        backOff.remove(volumeId);
        VolumeState volume = view.volume(volumeId).orElse(null);
        List<BackupState> backups = view.backupsOf(volumeId);
        Instant last = BackupPlan.lastRun(volume, backups);
        Instant remembered = lastRun.get(volumeId);
        if (remembered != null && (last == null || remembered.isAfter(last))) {
            last = remembered;
        }
        boolean busy = volume != null && (chainTaskRunning(volumeId) || !view.clonesOf(volumeId).isEmpty());
        BackupPlan.Step step = BackupPlan.next(policy, volume, backups, last, busy, now);
        if (step instanceof BackupPlan.Wait w) {
            if (w.until() != null) {
                wakeAt(volumeId, w.until());
            }
        } else if (step instanceof BackupPlan.TakeSnapshot s) {
            request(volumeId, "takes snapshot " + s.name(), () -> actions.snapshot(volume, s.name()),
                    taskId -> view.volume(volumeId).map(v -> v.getSnapshots().stream().anyMatch(x -> x.getName().equals(s.name()))).orElse(true),
                    () -> lastRun.put(volumeId, now));
        } else if (step instanceof BackupPlan.BackUp b) {
            request(volumeId, (b.incremental() ? "backs up (incremental) snapshot " : "backs up snapshot ") + b.snapshotId(),
                    () -> actions.backup(volume, policy.getTargetDomainId(), b.snapshotId(), b.incremental()),
                    taskId -> view.backups().stream().anyMatch(x -> x.getTaskId().equals(taskId) && x.getStatus() != BackupStatus.RUNNING),
                    () -> { });
        } else if (step instanceof BackupPlan.MergeSnapshot m) {
            request(volumeId, "merges away snapshot " + m.snapshotId(), () -> actions.deleteSnapshot(volume, m.snapshotId()),
                    taskId -> view.volume(volumeId).map(v -> v.getSnapshots().stream().noneMatch(x -> x.getSnapshotId().equals(m.snapshotId())))
                            .orElse(true), () -> { });
        } else if (step instanceof BackupPlan.DeleteBackup d) {
            request(volumeId, "deletes backup " + d.backup().getBackupId() + " (retention)", () -> actions.deleteBackup(d.backup()),
                    taskId -> view.backup(d.backup().getBackupId()).isEmpty(), () -> { });
        } else if (step instanceof BackupPlan.RemovePolicy) {
            LOG.info("volume {} is gone: its backup policy is removed, its backups stay", volumeId);
            actions.removePolicy(volumeId).onFailure(e -> LOG.warn("removing the backup policy of volume {}: {}", volumeId, e.getMessage()));
        }
    }

    /**
     * Makes a request and remembers it until its effect shows; {@code accepted} runs once it is
     * published. A refused request (the domain is in maintenance, say) is logged and tried again
     * after {@link #RETRY}.
     */
    private void request(String volumeId, String what, Supplier<Future<Submitted>> call, Predicate<String> effectVisible,
                         Runnable accepted) {
        InFlight f = new InFlight(effectVisible);
        Future<Submitted> submitted;
        try {
            submitted = call.get();
        } catch (RuntimeException e) {
            LOG.warn("backup policy of volume {} {}: refused, retrying in {} s: {}", volumeId, what, RETRY.toSeconds(), e.getMessage());
            wakeAt(volumeId, clock.instant().plus(RETRY));
            return;
        }
        inFlight.put(volumeId, f);
        submitted.onComplete(ar -> {
            if (ar.succeeded()) {
                f.taskId = ar.result().taskId();
                accepted.run();
                LOG.info("backup policy of volume {} {} (task {})", volumeId, what, f.taskId);
                touched(volumeId);
            } else {
                LOG.warn("backup policy of volume {} {}: not published, retrying in {} s: {}", volumeId, what, RETRY.toSeconds(),
                        ar.cause().getMessage());
                inFlight.remove(volumeId, f);
                wakeAt(volumeId, clock.instant().plus(RETRY));
            }
        });
    }

    /** Settled once its task failed, or succeeded and its effect is in the state too (the two come on different topics). */
    private boolean settled(InFlight f) {
        if (f.taskId == null) {
            return false;
        }
        TaskStatus status = view.task(f.taskId).map(TaskState::getStatus).orElse(TaskStatus.PENDING);
        return status == TaskStatus.FAILED || (status == TaskStatus.SUCCEEDED && f.effectVisible.test(f.taskId));
    }

    private boolean failed(InFlight f) {
        return view.task(f.taskId).map(TaskState::getStatus).orElse(null) == TaskStatus.FAILED;
    }

    private boolean chainTaskRunning(String volumeId) {
        return view.runningTasks().stream().anyMatch(t -> volumeId.equals(t.getVolumeId()) && TaskType.of(t.getType()).filter(CHAIN_TASKS::contains).isPresent()
                && (t.getStatus() == TaskStatus.PENDING || t.getStatus() == TaskStatus.RUNNING));
    }

    private void wakeAt(String volumeId, Instant when) {
        long delay = Math.max(1, Duration.between(clock.instant(), when).toMillis());
        Long previous = timers.put(volumeId, vertx.setTimer(delay, id -> {
            timers.remove(volumeId, id);
            touched(volumeId);
        }));
        if (previous != null) {
            vertx.cancelTimer(previous);
        }
    }
}
