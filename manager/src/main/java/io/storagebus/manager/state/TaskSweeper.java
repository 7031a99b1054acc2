package io.storagebus.manager.state;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import io.storagebus.bus.Topics;
import io.storagebus.manager.bus.CommandBus.Outgoing;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.ha.ManagerElection;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the task state small: on the active manager, finished tasks (SUCCEEDED or FAILED) whose
 * last record is older than the retention are removed with a tombstone, a batch at a time, so the
 * compacted topic forgets them and a restarted manager reads less. What the tasks made stays.
 */
public final class TaskSweeper implements ManagerElection.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(TaskSweeper.class);
    /** Tombstones per transaction: a backlog of a million tasks goes in slices, never in one huge transaction. */
    static final int BATCH = 1000;

    private final StateView view;
    private final ActiveRole role;
    private final Duration retention;
    private final Clock clock;
    /** Four times per retention (at most hourly), so a task is gone at most a quarter retention late. */
    private final ActiveSweep sweep;

    public TaskSweeper(Vertx vertx, StateView view, ActiveRole role, Duration retention, Clock clock) {
        this.view = view;
        this.role = role;
        this.retention = retention;
        this.clock = clock;
        this.sweep = new ActiveSweep(vertx, role, ActiveSweep.every(retention, 4, Duration.ofHours(1)), this::sweep);
    }

    @Override
    public void activate() {
        sweep.activate();
    }

    @Override
    public void deactivate() {
        sweep.deactivate();
    }

    private Future<?> sweep() {
        Instant before = clock.instant().minus(retention);
        List<Outgoing> expired = view.tasksFinishedBefore(before, BATCH).stream().map(id -> new Outgoing(Topics.TASK_STATE, id, null)).toList();
        if (expired.isEmpty()) {
            return Future.succeededFuture();
        }
        return role.bus().publish(expired)
                .onSuccess(v -> LOG.info("removed {} task(s) finished before {}", expired.size(), before))
                .onFailure(e -> LOG.warn("removing {} finished task(s) failed, trying again at the next sweep: {}", expired.size(), e.toString()));
    }
}
