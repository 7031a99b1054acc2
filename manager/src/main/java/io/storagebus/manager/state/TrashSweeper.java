package io.storagebus.manager.state;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Function;

import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.ha.ManagerElection;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.DomainStatus;
import io.storagebus.schema.VolumeState;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Empties the trash: on the active manager, volumes that went into the trash longer than their
 * domain's retention ago (its {@code trashRetentionSeconds}, else the manager's) are purged, a
 * batch at a time, each by a purge task on its pool's SPM as if a user had asked. The manager
 * does it because it holds when each volume went in; a purge that fails (a domain in
 * maintenance, an SPM away) leaves the volume in the trash for the next sweep.
 */
public final class TrashSweeper implements ManagerElection.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(TrashSweeper.class);
    /** Purges asked for per sweep: a trash of a million volumes empties in slices. */
    static final int BATCH = 100;

    private final StateView view;
    private final Duration retention;
    private final Clock clock;
    /** Asks for a volume's purge; the future ends when the request was published. */
    private final Function<VolumeState, Future<?>> purge;
    /** Ten times per default retention, at most every minute: a domain may keep its trash shorter than the default. */
    private final ActiveSweep sweep;

    public TrashSweeper(Vertx vertx, StateView view, ActiveRole role, Duration retention, Clock clock,
                        Function<VolumeState, Future<?>> purge) {
        this.view = view;
        this.retention = retention;
        this.clock = clock;
        this.purge = purge;
        this.sweep = new ActiveSweep(vertx, role, ActiveSweep.every(retention, 10, Duration.ofMinutes(1)), this::sweep);
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
        Instant now = clock.instant();
        java.util.Set<String> busy = new java.util.HashSet<>();
        view.runningTasks().forEach(t -> busy.add(t.getVolumeId()));
        // Longest in the trash first; what cannot be purged now (a purge under way, a domain in maintenance) is passed
        // over, so it never holds the others back.
        List<VolumeState> expired = view.trash(null, BATCH, v -> !busy.contains(v.getId()) && view.domain(v.getDomainId())
                .filter(d -> d.getStatus() == DomainStatus.ACTIVE && v.getTrashedAt().isBefore(now.minus(retentionOf(d)))).isPresent()).items();
        if (expired.isEmpty()) {
            return Future.succeededFuture();
        }
        // A refusal (a domain in maintenance, say) is thrown by the request: it fails that volume's future only.
        return Future.join(expired.stream().map(v -> Future.succeededFuture().compose(x -> purge.apply(v)).onFailure(e -> LOG.warn(
                        "purging volume {} ({}) from the trash failed, trying again at the next sweep: {}", v.getId(), v.getName(),
                        e.toString()))).toList())
                .onComplete(ar -> LOG.info("asked for the purge of {} volume(s) past their domain's trash retention", expired.size()));
    }

    private Duration retentionOf(DomainState domain) {
        return domain.getTrashRetentionSeconds() == null ? retention : Duration.ofSeconds(domain.getTrashRetentionSeconds());
    }
}
