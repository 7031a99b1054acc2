package io.storagebus.leases;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.lifecycle.Lifecycle;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's part in the SPM election of one pool.
 *
 * <p>Every host of a pool runs one; Curator's {@link LeaderLatch} picks the leader. A new leader
 * bumps the pool's epoch node with a compare-and-set on its znode version and, in the same
 * ZooKeeper transaction, publishes itself in the ephemeral holder node; only then does its term
 * start. Curator treats a SUSPENDED connection as loss of leadership, so the term ends as soon as
 * the host can no longer be sure it leads.
 */
public final class SpmElection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SpmElection.class);

    private final CuratorFramework client;
    private final String pool;
    private final String hostId;
    private final SpmListener listener;
    private final AtomicReference<LeaderLatch> latch = new AtomicReference<>();
    private final CuratorCache releaseRequests;
    private final ScheduledExecutorService events;
    private final Lifecycle lifecycle = new Lifecycle("SPM election");
    private final AtomicReference<SpmTerm> current = new AtomicReference<>();

    public SpmElection(CuratorFramework client, String pool, String hostId, SpmListener listener) {
        this.client = client;
        this.pool = pool;
        this.hostId = hostId;
        this.listener = listener;
        this.releaseRequests = CuratorCache.build(client, SpmPaths.release(pool));
        this.events = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "spm-election-" + pool);
            t.setDaemon(true);
            return t;
        });
    }

    public void start() throws Exception {
        lifecycle.start();
        releaseRequests.listenable().addListener(CuratorCacheListener.builder()
                .forCreatesAndChanges((before, node) -> onReleaseRequest(node.getData()))
                .build(), events);
        releaseRequests.start();
        joinLatch();
    }

    /** Enters the election: a new latch node, at the back of the queue. */
    private void joinLatch() throws Exception {
        LeaderLatch fresh = new LeaderLatch(client, SpmPaths.latch(pool), hostId);
        // Listener calls run on our own thread: the epoch bump does ZooKeeper round trips, which
        // must not happen on Curator's event thread.
        fresh.addListener(new LeaderLatchListener() {
            @Override
            public void isLeader() {
                if (latch.get() == fresh) {
                    onLeadership();
                }
            }

            @Override
            public void notLeader() {
                if (latch.get() == fresh) {
                    endTerm("leadership lost");
                }
            }
        }, events);
        latch.set(fresh);
        fresh.start();
    }

    /**
     * Asks whoever holds the pool's SPM term {@code epoch} to hand it over: it ends its term and
     * rejoins the election behind the other hosts, so another host (if any) takes over.
     */
    public static void requestRelease(CuratorFramework client, String pool, long epoch) throws Exception {
        client.create().orSetData().creatingParentsIfNeeded()
                .forPath(SpmPaths.release(pool), Long.toString(epoch).getBytes(StandardCharsets.UTF_8));
    }

    private void onReleaseRequest(byte[] data) {
        SpmTerm term = current.get();
        if (term == null || !lifecycle.isStarted() || data == null
                || !Long.toString(term.epoch()).equals(new String(data, StandardCharsets.UTF_8))) {
            return;
        }
        endTerm("released on request");
        try {
            latch.get().close(LeaderLatch.CloseMode.SILENT);
            joinLatch();
        } catch (Exception e) {
            LOG.error("pool {}: host {} could not rejoin the SPM election after a release: {}", pool, hostId, e.toString());
        }
    }

    /** The current term if this host is SPM now. */
    public Optional<SpmTerm> currentTerm() {
        return Optional.ofNullable(current.get());
    }

    public boolean isSpm() {
        return current.get() != null;
    }

    public String pool() {
        return pool;
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            events.shutdownNow();
            return;
        }
        try {
            // End the term first so nothing is written under it while the latch goes away.
            events.submit(() -> endTerm("election closed")).get(10, TimeUnit.SECONDS);
            releaseRequests.close();
            latch.get().close(LeaderLatch.CloseMode.SILENT);
        } catch (Exception e) {
            LOG.warn("pool {}: closing SPM election: {}", pool, e.toString());
        } finally {
            events.shutdownNow();
        }
    }

    private void onLeadership() {
        if (!lifecycle.isStarted()) {
            return;
        }
        try {
            SpmTerm term = claimTerm();
            if (!latch.get().hasLeadership()) {
                // Lost it while claiming; the notLeader call that follows finds no term to end.
                LOG.info("pool {}: leadership lost while claiming epoch {}", pool, term.epoch());
                return;
            }
            current.set(term);
            LOG.info("pool {}: host {} is SPM with epoch {}", pool, hostId, term.epoch());
            listener.termStarted(term);
        } catch (Exception e) {
            // Usually a connection problem: Curator then reports notLeader and elects again. If we
            // still lead, try again shortly; the pool has no SPM until the claim succeeds.
            LOG.warn("pool {}: cannot claim the SPM epoch, retrying in 1 s: {}", pool, e.toString());
            events.schedule(() -> {
                if (latch.get().hasLeadership() && current.get() == null) {
                    onLeadership();
                }
            }, 1, TimeUnit.SECONDS);
        }
    }

    /** Bumps the epoch with a compare-and-set and publishes the holder, in one transaction. */
    private SpmTerm claimTerm() throws Exception {
        String epochPath = SpmPaths.epoch(pool);
        String holderPath = SpmPaths.holder(pool);
        while (true) {
            Stat stat = new Stat();
            long epoch;
            try {
                epoch = Long.parseLong(new String(client.getData().storingStatIn(stat).forPath(epochPath), StandardCharsets.UTF_8));
            } catch (KeeperException.NoNodeException e) {
                try {
                    client.create().creatingParentsIfNeeded().forPath(epochPath, "0".getBytes(StandardCharsets.UTF_8));
                } catch (KeeperException.NodeExistsException raced) {
                    // another host created it first: read it again
                }
                continue;
            }
            SpmTerm term = new SpmTerm(pool, hostId, epoch + 1, Instant.now());
            List<CuratorOp> ops = new ArrayList<>();
            ops.add(client.transactionOp().setData().withVersion(stat.getVersion())
                    .forPath(epochPath, Long.toString(term.epoch()).getBytes(StandardCharsets.UTF_8)));
            if (client.checkExists().forPath(holderPath) != null) {
                // Left by a predecessor whose session has not expired yet (clean hand-over).
                ops.add(client.transactionOp().delete().forPath(holderPath));
            }
            ops.add(client.transactionOp().create().withMode(CreateMode.EPHEMERAL).forPath(holderPath, term.toBytes()));
            try {
                client.transaction().forOperations(ops);
                return term;
            } catch (KeeperException.BadVersionException | KeeperException.NoNodeException | KeeperException.NodeExistsException e) {
                LOG.debug("pool {}: epoch claim raced ({}), retrying", pool, e.code());
            }
        }
    }

    private void endTerm(String reason) {
        SpmTerm term = current.getAndSet(null);
        if (term == null) {
            return;
        }
        LOG.info("pool {}: host {} ends SPM term {}: {}", pool, hostId, term.epoch(), reason);
        try {
            listener.termEnded(term);
        } finally {
            removeHolder(term);
        }
    }

    /** Best effort: with a live session, clear our holder node so the directory is right at once. */
    private void removeHolder(SpmTerm term) {
        try {
            Stat stat = new Stat();
            byte[] data = client.getData().storingStatIn(stat).forPath(SpmPaths.holder(pool));
            if (SpmTerm.fromBytes(pool, data).epoch() == term.epoch()) {
                client.delete().withVersion(stat.getVersion()).forPath(SpmPaths.holder(pool));
            }
        } catch (Exception e) {
            LOG.debug("pool {}: holder node not removed: {}", pool, e.toString());
        }
    }
}
