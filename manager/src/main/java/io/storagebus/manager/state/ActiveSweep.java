package io.storagebus.manager.state;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.ha.ManagerElection;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * A sweep of the state the active manager runs every {@code period} while it is active: one at a
 * time (a sweep still publishing is not started again), none on a standby.
 */
final class ActiveSweep implements ManagerElection.Listener {
    private final Vertx vertx;
    private final ActiveRole role;
    private final Duration period;
    /** One sweep; its future ends when what it asked for was published (or refused). */
    private final Supplier<Future<?>> sweep;
    private final AtomicBoolean sweeping = new AtomicBoolean();
    private volatile long timer = -1;

    ActiveSweep(Vertx vertx, ActiveRole role, Duration period, Supplier<Future<?>> sweep) {
        this.vertx = vertx;
        this.role = role;
        this.period = period;
        this.sweep = sweep;
    }

    /** A fraction of a retention, kept between a second and {@code most}. */
    static Duration every(Duration retention, int timesPerRetention, Duration most) {
        return Duration.ofMillis(Math.max(1000, Math.min(most.toMillis(), retention.toMillis() / timesPerRetention)));
    }

    @Override
    public void activate() {
        timer = vertx.setPeriodic(period.toMillis(), period.toMillis(), id -> run());
    }

    @Override
    public void deactivate() {
        long t = timer;
        if (t >= 0) {
            vertx.cancelTimer(t);
            timer = -1;
        }
    }

    private void run() {
        if (!role.isActive() || !sweeping.compareAndSet(false, true)) {
            return;
        }
        Future.succeededFuture().compose(v -> sweep.get()).onComplete(ar -> sweeping.set(false));
    }
}
