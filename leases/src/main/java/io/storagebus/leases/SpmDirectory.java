package io.storagebus.leases;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import io.storagebus.lifecycle.Lifecycle;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who is SPM of which pool, kept current from ZooKeeper watches (no polling). For the manager
 * and anyone else who must know where a pool's SPM is, without taking part in the election.
 */
public final class SpmDirectory implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SpmDirectory.class);

    private final CuratorCache cache;
    private final Map<String, SpmTerm> holders = new ConcurrentHashMap<>();
    private final List<Waiter> waiters = new CopyOnWriteArrayList<>();

    private record Waiter(String pool, long afterEpoch, CompletableFuture<SpmTerm> future) {
    }
    private final Lifecycle lifecycle = new Lifecycle("SPM directory");

    public SpmDirectory(CuratorFramework client) {
        this.cache = CuratorCache.build(client, SpmPaths.ROOT);
    }

    public void start() {
        lifecycle.start();
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreatesAndChanges((oldNode, node) -> update(node))
                .forDeletes(this::remove)
                .build());
        cache.start();
    }

    public Optional<SpmTerm> spmOf(String pool) {
        return Optional.ofNullable(holders.get(pool));
    }

    public Map<String, SpmTerm> all() {
        return Map.copyOf(holders);
    }

    /** Completes (from ZooKeeper's watch, no polling) once the pool has a term newer than {@code afterEpoch}. */
    public CompletableFuture<SpmTerm> nextTerm(String pool, long afterEpoch) {
        Waiter waiter = new Waiter(pool, afterEpoch, new CompletableFuture<>());
        waiters.add(waiter);
        waiter.future().whenComplete((t, e) -> waiters.remove(waiter));
        spmOf(pool).filter(t -> t.epoch() > afterEpoch).ifPresent(waiter.future()::complete);
        return waiter.future();
    }

    private void update(ChildData node) {
        String pool = poolOfHolder(node.getPath());
        if (pool == null) {
            return;
        }
        try {
            SpmTerm term = SpmTerm.fromBytes(pool, node.getData());
            holders.put(pool, term);
            for (Waiter w : waiters) {
                if (w.pool().equals(pool) && term.epoch() > w.afterEpoch()) {
                    w.future().complete(term);
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("ignoring malformed SPM holder node {}: {}", node.getPath(), e.getMessage());
        }
    }

    private void remove(ChildData node) {
        String pool = poolOfHolder(node.getPath());
        if (pool != null) {
            holders.remove(pool);
        }
    }

    private static String poolOfHolder(String path) {
        String prefix = SpmPaths.ROOT + "/";
        if (!path.startsWith(prefix) || !path.endsWith("/spm/holder")) {
            return null;
        }
        String pool = path.substring(prefix.length(), path.length() - "/spm/holder".length());
        return pool.contains("/") ? null : pool;
    }

    @Override
    public void close() {
        if (lifecycle.close()) {
            cache.close();
        }
    }
}
