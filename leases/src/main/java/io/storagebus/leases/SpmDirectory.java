package io.storagebus.leases;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

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

    private enum State { LATENT, STARTED, CLOSED }

    private final CuratorCache cache;
    private final Map<String, SpmTerm> holders = new ConcurrentHashMap<>();
    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);

    public SpmDirectory(CuratorFramework client) {
        this.cache = CuratorCache.build(client, SpmPaths.ROOT);
    }

    public void start() {
        if (!state.compareAndSet(State.LATENT, State.STARTED)) {
            throw new IllegalStateException("SPM directory already started");
        }
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

    private void update(ChildData node) {
        String pool = poolOfHolder(node.getPath());
        if (pool == null) {
            return;
        }
        try {
            holders.put(pool, SpmTerm.fromBytes(pool, node.getData()));
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
        if (state.compareAndSet(State.STARTED, State.CLOSED)) {
            cache.close();
        }
    }
}
