package io.storagebus.manager.ha;

import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.lifecycle.Lifecycle;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which manager is active. Every manager runs one; Curator's {@link LeaderLatch} picks the
 * active one and the others stand by. A SUSPENDED ZooKeeper connection ends activity at once, as
 * for the SPM. The latch's nodes carry each manager's id and URL, and a watch on them (no
 * polling) tells a standby where the active manager is, so it can point clients there.
 */
public final class ManagerElection implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ManagerElection.class);
    static final String LATCH = "/storagebus/managers/latch";
    private static final long REJOIN_DELAY_SECONDS = 2;

    /** A manager as it announces itself in the election. */
    public record Candidate(String managerId, String url) {
        static Candidate parse(byte[] data) {
            String text = data == null ? "" : new String(data, StandardCharsets.UTF_8);
            int space = text.indexOf(' ');
            return space < 0 ? new Candidate(text, null) : new Candidate(text.substring(0, space), text.substring(space + 1));
        }

        String encode() {
            return managerId + " " + url;
        }
    }

    /** Called on the election's own thread, never two at once. */
    public interface Listener {
        /** This manager leads; returns once it can take writes. */
        void activate() throws Exception;

        /** This manager no longer leads (or can no longer be sure it does). */
        void deactivate();
    }

    private final CuratorFramework client;
    private final Candidate self;
    private final Listener listener;
    private final AtomicReference<LeaderLatch> latch = new AtomicReference<>();
    private final CuratorCache candidates;
    private final ScheduledExecutorService events;
    private final Lifecycle lifecycle = new Lifecycle("manager election");
    private final AtomicReference<Candidate> leader = new AtomicReference<>();
    private final CompletableFuture<Void> settled = new CompletableFuture<>();
    private volatile boolean active;

    public ManagerElection(CuratorFramework client, String managerId, String url, Listener listener) {
        this.client = client;
        this.self = new Candidate(managerId, url);
        this.listener = listener;
        this.candidates = CuratorCache.build(client, LATCH);
        this.events = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "manager-election");
            t.setDaemon(true);
            return t;
        });
    }

    public void start() throws Exception {
        lifecycle.start();
        candidates.listenable().addListener(CuratorCacheListener.builder().forAll((type, before, after) -> candidatesChanged()).build(), events);
        candidates.start();
        joinLatch();
    }

    /** Enters the election with a new latch node, at the back of the queue. */
    private void joinLatch() throws Exception {
        LeaderLatch fresh = new LeaderLatch(client, LATCH, self.encode());
        fresh.addListener(new LeaderLatchListener() {
            @Override
            public void isLeader() {
                if (latch.get() == fresh) {
                    onLeadership(fresh);
                }
            }

            @Override
            public void notLeader() {
                if (latch.get() == fresh) {
                    endActivity("leadership lost");
                }
            }
        }, events);
        latch.set(fresh);
        fresh.start();
    }

    /**
     * Completes once this manager knows its role: it became active, or another manager leads.
     * A manager that starts alone is active when this completes.
     */
    public CompletableFuture<Void> settled() {
        return settled;
    }

    public boolean isActive() {
        return active;
    }

    /** Whether this manager holds the latch now (also while it is still activating). */
    public boolean leads() {
        LeaderLatch l = latch.get();
        return l != null && l.hasLeadership();
    }

    /** The manager that leads, as the latch's nodes say; empty while none does. */
    public Optional<Candidate> leader() {
        return Optional.ofNullable(leader.get());
    }

    public Candidate self() {
        return self;
    }

    private void onLeadership(LeaderLatch won) {
        if (!lifecycle.isStarted()) {
            return;
        }
        try {
            listener.activate();
            if (!won.hasLeadership()) {
                LOG.info("manager {}: leadership lost while activating", self.managerId());
                listener.deactivate();
                return;
            }
            active = true;
            settled.complete(null);
            LOG.info("manager {} is active", self.managerId());
        } catch (Exception e) {
            // Cannot take writes (Kafka away?): let another manager lead and queue up again.
            LOG.error("manager {} could not become active, standing back for {} s: {}", self.managerId(),
                    REJOIN_DELAY_SECONDS, e.toString());
            listener.deactivate();
            rejoin(won);
        }
    }

    private void rejoin(LeaderLatch left) {
        try {
            left.close(LeaderLatch.CloseMode.SILENT);
        } catch (Exception e) {
            LOG.warn("manager {}: leaving the election: {}", self.managerId(), e.toString());
        }
        events.schedule(() -> {
            try {
                if (lifecycle.isStarted()) {
                    joinLatch();
                }
            } catch (Exception e) {
                LOG.error("manager {} cannot rejoin the election: {}", self.managerId(), e.toString());
            }
        }, REJOIN_DELAY_SECONDS, TimeUnit.SECONDS);
    }

    private void endActivity(String why) {
        if (active) {
            active = false;
            LOG.warn("manager {} is standby now: {}", self.managerId(), why);
            listener.deactivate();
        }
    }

    /** Every manager in the election, in the order they lead: the leader first, then who would take over from it. */
    public List<Candidate> candidates() {
        return latchNodes().sorted(Comparator.comparing(ManagerElection::sequence)).map(d -> Candidate.parse(d.getData())).toList();
    }

    /** The lowest sequence number leads, as in Curator's own reckoning. */
    private void candidatesChanged() {
        Candidate now = latchNodes().min(Comparator.comparing(ManagerElection::sequence))
                .map(d -> Candidate.parse(d.getData())).orElse(null);
        Candidate before = leader.getAndSet(now);
        if (now != null && !now.equals(before)) {
            LOG.info("active manager: {} at {}", now.managerId(), now.url());
        }
        if (now != null && !now.managerId().equals(self.managerId())) {
            settled.complete(null);
        }
    }

    private java.util.stream.Stream<ChildData> latchNodes() {
        return candidates.stream().filter(d -> d.getPath().startsWith(LATCH + "/") && d.getPath().contains("latch-"));
    }

    private static String sequence(ChildData node) {
        String path = node.getPath();
        return path.substring(path.lastIndexOf("latch-") + "latch-".length());
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            events.shutdownNow();
            return;
        }
        try {
            // Stop taking writes before the latch node goes, so the next manager never overlaps.
            events.submit(() -> endActivity("closing")).get(20, TimeUnit.SECONDS);
            candidates.close();
            latch.get().close(LeaderLatch.CloseMode.SILENT);
        } catch (Exception e) {
            LOG.warn("manager {}: closing the election: {}", self.managerId(), e.toString());
        } finally {
            events.shutdownNow();
        }
    }
}
