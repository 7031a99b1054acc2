package io.storagebus.leases;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

import io.storagebus.lifecycle.Lifecycle;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's exclusive volume leases: {@code /storagebus/leases/<volumeId>}, an ephemeral node
 * of this host's ZooKeeper session, so a lease ends with the session of a host that crashed or
 * was cut off. Lease epochs come from a persistent counter per volume, bumped by compare-and-set.
 * When the session is lost, every lease is lost and the listener is told, so the host stops
 * using the volumes before another host can take them.
 *
 * <p>A holder says, in the epoch's record, its <em>guard</em>: how long after its session was
 * last heard its guests may still write. A lease taken from a holder that did not give it back
 * comes with a {@link LeaseTakeover}: the volume is usable only once that guard, plus
 * {@link #TAKEOVER_MARGIN}, has passed since it was taken.
 */
public final class VolumeLeases implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeLeases.class);
    static final String ROOT = "/storagebus/leases";
    static final String EPOCHS = "/storagebus/lease-epochs";
    /** Added to the old holder's guard: signals delivered, timers' ticks, clocks running at slightly different rates. */
    public static final Duration TAKEOVER_MARGIN = Duration.ofSeconds(1);
    /** How an SPM's leases (its jobs' hold on volumes) name their holder: {@code spm:<hostId>}, apart from hosts' own. */
    private static final String SPM_HOLDER = "spm:";

    /** The holder name of the SPM's leases on host {@code hostId}. */
    public static String spmHolder(String hostId) {
        return SPM_HOLDER + hostId;
    }

    /** Whether a lease holder is an SPM's job rather than a host's guest. */
    public static boolean heldBySpm(String holder) {
        return holder.startsWith(SPM_HOLDER);
    }

    /** Told when leases end without the host releasing them, and when they may be about to. */
    @FunctionalInterface
    public interface Listener {
        void leaseLost(VolumeLease lease, String reason);

        /**
         * ZooKeeper cannot be reached: the session, and with it these leases, ends for everyone
         * else once its timeout passes without this host being heard. Nothing may write under
         * them from now until {@link #leasesConfirmed} (or {@link #leaseLost}).
         */
        default void leasesInDoubt(List<VolumeLease> leases) {
        }

        /** The session survived the doubt: these leases were never lost. */
        default void leasesConfirmed(List<VolumeLease> leases) {
        }
    }

    /**
     * A lease this host holds, the version of its node (only this host writes the node while it
     * lives) and, when it was taken from a holder that did not give it back, the wait for it.
     */
    private record Held(VolumeLease lease, int version, LeaseTakeover takeover) {
    }

    private final CuratorFramework client;
    private final String hostId;
    private final Duration guard;
    private final Listener listener;
    private final Map<String, Held> held = new ConcurrentHashMap<>();
    private final Lifecycle lifecycle = new Lifecycle("volume leases");
    private final ConnectionStateListener connection = this::onConnectionState;
    /** Set while the session is SUSPENDED (written only on Curator's event thread). */
    private volatile boolean inDoubt;

    /**
     * @param guard this host's promise to the next holder: how long after its ZooKeeper session
     *              was last heard its guests may still write
     */
    public VolumeLeases(CuratorFramework client, String hostId, Duration guard, Listener listener) {
        this.client = client;
        this.hostId = hostId;
        this.guard = guard;
        this.listener = listener;
    }

    public void start() {
        lifecycle.start();
        client.getConnectionStateListenable().addListener(connection);
    }

    /** Takes the volume's lease for this host, or returns the one it holds already. */
    public VolumeLease acquire(String volumeId) throws LeaseHeldException, Exception {
        Held mine = held.get(volumeId);
        VolumeLease holder = mine == null ? null : holderOf(volumeId);
        if (holder != null && holder.epoch() == mine.lease().epoch()) {
            return mine.lease();
        }
        VolumeLease existing = holderOf(volumeId);
        if (existing != null) {
            throw new LeaseHeldException(existing);
        }
        LeaseEpochRecord previous = nextEpoch(volumeId);
        VolumeLease lease = new VolumeLease(volumeId, hostId, previous.epoch() + 1, Instant.now());
        try {
            client.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(ROOT + "/" + volumeId, lease.toBytes());
        } catch (KeeperException.NodeExistsException raced) {
            VolumeLease winner = holderOf(volumeId);
            throw new LeaseHeldException(winner != null ? winner : lease);
        }
        LeaseTakeover takeover = previous.released() ? null : takeover(lease, previous);
        held.put(volumeId, new Held(lease, 0, takeover));
        if (takeover != null) {
            LOG.warn("host {}: {}", hostId, takeover.describe());
        }
        LOG.info("host {} holds the lease of volume {} (epoch {})", hostId, volumeId, lease.epoch());
        return lease;
    }

    private LeaseTakeover takeover(VolumeLease lease, LeaseEpochRecord previous) {
        Duration wait = takeoverWait(previous);
        return new LeaseTakeover(lease.volumeId(), lease.epoch(), previous.holder(), previous.epoch(), previous.guard(), wait,
                lease.since().plus(wait));
    }

    /** The wait for a lease its holder did not give back: its guard, or, unsaid, the longest this host knows of, plus the margin. */
    private Duration takeoverWait(LeaseEpochRecord previous) {
        Duration bound = previous.guard();
        if (bound == null) {
            bound = guard;
            try {
                bound = max(bound, Duration.ofMillis(client.getZookeeperClient().getZooKeeper().getSessionTimeout()));
            } catch (Exception e) {
                // this host's own guard, then
            }
        }
        return bound.plus(TAKEOVER_MARGIN);
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    /**
     * The wait before the volume may be used under the lease this host holds, when it took it
     * from a holder that did not give it back; empty when it may be used at once.
     */
    public Optional<LeaseTakeover> takeover(String volumeId) {
        return Optional.ofNullable(held.get(volumeId)).map(Held::takeover);
    }

    /**
     * Describes how the volume is used under this host's lease (where it is usable, its
     * allocation): the node is rewritten in the background, conditional on its version, so a node
     * that is no longer this lease's is never touched. Nothing happens if this host does not hold
     * the lease or {@code change} returns the lease unchanged.
     */
    public void describe(String volumeId, UnaryOperator<VolumeLease> change) {
        held.computeIfPresent(volumeId, (id, mine) -> {
            VolumeLease changed = change.apply(mine.lease());
            if (changed.equals(mine.lease())) {
                return mine;
            }
            try {
                client.setData().withVersion(mine.version()).inBackground((c, event) -> {
                    if (event.getResultCode() != KeeperException.Code.OK.intValue()) {
                        LOG.debug("host {}: the lease node of volume {} was not updated: {}", hostId, id,
                                KeeperException.Code.get(event.getResultCode()));
                    }
                }).forPath(ROOT + "/" + id, changed.toBytes());
            } catch (Exception e) {
                LOG.warn("host {}: cannot describe the lease of volume {}: {}", hostId, id, e.toString());
                return mine;
            }
            return new Held(changed, mine.version() + 1, mine.takeover());
        });
    }

    /**
     * Gives the lease up; nothing happens if this host does not hold it. The epoch's record says
     * so first, while the node still keeps everyone else out: the next holder need not wait.
     */
    public void release(String volumeId) throws Exception {
        Held mine = held.remove(volumeId);
        if (mine == null) {
            return;
        }
        // Given back before a takeover's wait is over, the old holder's guests may still write: the
        // record stays "not given back", and the next holder waits what this one promised.
        if (mine.takeover() == null || mine.takeover().remaining(Instant.now()).isZero()) {
            markReleased(volumeId, mine.lease().epoch());
        }
        Stat stat = new Stat();
        try {
            byte[] data = client.getData().storingStatIn(stat).forPath(ROOT + "/" + volumeId);
            if (VolumeLease.fromBytes(volumeId, data).epoch() == mine.lease().epoch()) {
                client.delete().withVersion(stat.getVersion()).forPath(ROOT + "/" + volumeId);
            }
        } catch (KeeperException.NoNodeException gone) {
            // already gone with an old session
        }
    }

    /**
     * Runs {@code released} once, when the volume's lease node is gone (given back, or ended with
     * its holder's session), or at once if there is none now; for as long as {@code wanted}
     * says so. A ZooKeeper watch, re-armed on every other change of the node, so nothing polls.
     */
    public void whenReleased(String volumeId, java.util.function.BooleanSupplier wanted, Runnable released) {
        java.util.concurrent.atomic.AtomicBoolean fired = new java.util.concurrent.atomic.AtomicBoolean();
        watchRelease(volumeId, () -> !fired.get() && wanted.getAsBoolean(), () -> {
            if (fired.compareAndSet(false, true)) {
                released.run();
            }
        });
    }

    private void watchRelease(String volumeId, java.util.function.BooleanSupplier wanted, Runnable released) {
        if (!wanted.getAsBoolean()) {
            return;
        }
        try {
            Stat stat = client.checkExists().usingWatcher((org.apache.curator.framework.api.CuratorWatcher) event ->
                    watchRelease(volumeId, wanted, released)).forPath(ROOT + "/" + volumeId);
            if (stat == null) {
                released.run();
            }
        } catch (Exception e) {
            // The session ended (and with it the SPM's term, which is what wants this) or ZooKeeper is closing.
            LOG.warn("cannot watch the lease of volume {}: {}", volumeId, e.toString());
        }
    }

    /** Who holds the volume's lease now, or null. */
    public VolumeLease holderOf(String volumeId) throws Exception {
        try {
            return VolumeLease.fromBytes(volumeId, client.getData().forPath(ROOT + "/" + volumeId));
        } catch (KeeperException.NoNodeException e) {
            return null;
        }
    }

    /** The lease of the volume this host holds, if it holds one. */
    public java.util.Optional<VolumeLease> heldLease(String volumeId) {
        return java.util.Optional.ofNullable(held.get(volumeId)).map(Held::lease);
    }

    /** Whether this host can prove its leases now: connected to ZooKeeper, its session not in doubt. */
    public boolean proven() {
        return !inDoubt && client.getZookeeperClient().isConnected();
    }

    /**
     * Asks ZooKeeper something and runs {@code heard} when it answers, however late: the server
     * has then heard this host's session after the question was asked, so the session, and the
     * leases, last at least a session timeout from the moment of asking. A slow answer (a loaded
     * server or network) is proof all the same. Nothing is run if the session is in doubt now or
     * the question fails; no retry. {@code heard} runs on ZooKeeper's event thread: it must be quick.
     */
    public void whenSessionHeard(Runnable heard) {
        if (!proven()) {
            return;
        }
        try {
            client.getZookeeperClient().getZooKeeper().exists("/", false, (rc, path, ctx, stat) -> {
                if (rc == KeeperException.Code.OK.intValue()) {
                    heard.run();
                }
            }, null);
        } catch (Exception e) {
            // no connection to ask on (the client is between sessions): nothing heard
        }
    }

    public List<VolumeLease> held() {
        return held.values().stream().map(Held::lease).toList();
    }

    /** Bumps the volume's epoch by compare-and-set, recording this host and its guard; returns the record it replaced. */
    private LeaseEpochRecord nextEpoch(String volumeId) throws Exception {
        String path = EPOCHS + "/" + volumeId;
        while (true) {
            Stat stat = new Stat();
            LeaseEpochRecord previous;
            try {
                previous = LeaseEpochRecord.fromBytes(volumeId, client.getData().storingStatIn(stat).forPath(path));
            } catch (KeeperException.NoNodeException e) {
                try {
                    client.create().creatingParentsIfNeeded().forPath(path, LeaseEpochRecord.NONE.toBytes());
                } catch (KeeperException.NodeExistsException raced) {
                    // read it again
                }
                continue;
            }
            // A lease taken over carries the wait it inherits: a host taking it from this one, even
            // before this one's wait is over, then waits at least as long, counted from later.
            Duration promised = previous.released() ? guard : max(guard, takeoverWait(previous));
            LeaseEpochRecord mine = new LeaseEpochRecord(previous.epoch() + 1, hostId, promised, false);
            try {
                client.setData().withVersion(stat.getVersion()).forPath(path, mine.toBytes());
                return previous;
            } catch (KeeperException.BadVersionException raced) {
                // another host took a lease in between: read it again
            }
        }
    }

    /** Records that the lease of {@code epoch} was given back, unless a newer lease was taken since. */
    private void markReleased(String volumeId, long epoch) throws Exception {
        String path = EPOCHS + "/" + volumeId;
        Stat stat = new Stat();
        try {
            LeaseEpochRecord current = LeaseEpochRecord.fromBytes(volumeId, client.getData().storingStatIn(stat).forPath(path));
            if (current.epoch() == epoch && !current.released()) {
                client.setData().withVersion(stat.getVersion()).forPath(path, current.givenBack().toBytes());
            }
        } catch (KeeperException.NoNodeException | KeeperException.BadVersionException | IllegalArgumentException newerOrUnreadable) {
            // a newer lease was taken (its holder waits as if not given back), or the record is not ours to mend
        }
    }

    /**
     * SUSPENDED means ZooKeeper has not answered for two thirds of the session timeout (or the
     * connection broke): the leases are in doubt, and the rest of the timeout is all the time
     * there is to stop writing. RECONNECTED after it means the same session lives on. LOST means
     * the session is gone (or Curator gave up waiting for it): the ephemeral lease nodes are gone
     * or going, and another host may take the volumes at once.
     */
    private void onConnectionState(CuratorFramework c, ConnectionState newState) {
        switch (newState) {
            case SUSPENDED -> {
                inDoubt = true;
                List<VolumeLease> leases = held();
                if (!leases.isEmpty()) {
                    LOG.warn("host {}: ZooKeeper unreachable, the leases of {} volumes are in doubt", hostId, leases.size());
                    listener.leasesInDoubt(leases);
                }
            }
            case RECONNECTED -> {
                List<VolumeLease> leases = held();
                if (inDoubt && !leases.isEmpty()) {
                    LOG.info("host {}: ZooKeeper session survived, the leases of {} volumes hold", hostId, leases.size());
                    listener.leasesConfirmed(leases);
                }
                inDoubt = false;
            }
            case LOST -> {
                inDoubt = false;
                for (String volumeId : List.copyOf(held.keySet())) {
                    Held mine = held.remove(volumeId);
                    if (mine != null) {
                        VolumeLease lease = mine.lease();
                        LOG.warn("host {} lost the lease of volume {} (epoch {}): ZooKeeper session lost", hostId, volumeId, lease.epoch());
                        listener.leaseLost(lease, "the host's ZooKeeper session was lost");
                    }
                }
            }
            default -> {
                // CONNECTED (the first time) and READ_ONLY change nothing held
            }
        }
    }

    @Override
    public void close() {
        if (lifecycle.close()) {
            client.getConnectionStateListenable().removeListener(connection);
        }
    }
}
