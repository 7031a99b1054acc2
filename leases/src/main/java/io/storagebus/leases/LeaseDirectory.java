package io.storagebus.leases;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import io.storagebus.lifecycle.Lifecycle;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Every volume lease in ZooKeeper, kept current from watches: who uses which volume. */
public final class LeaseDirectory implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseDirectory.class);
    private final CuratorCache cache;
    private final Map<String, VolumeLease> leases = new ConcurrentHashMap<>();
    private final Lifecycle lifecycle = new Lifecycle("lease directory");

    public LeaseDirectory(CuratorFramework client) {
        this.cache = CuratorCache.build(client, VolumeLeases.ROOT);
    }

    public void start() {
        lifecycle.start();
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreatesAndChanges((before, node) -> {
                    String id = volumeId(node);
                    if (id != null && node.getData() != null) {
                        try {
                            leases.put(id, VolumeLease.fromBytes(id, node.getData()));
                        } catch (IllegalArgumentException e) {
                            LOG.warn("lease node {} skipped: {}", node.getPath(), e.getMessage());
                        }
                    }
                })
                .forDeletes(node -> {
                    String id = volumeId(node);
                    if (id != null) {
                        leases.remove(id);
                    }
                })
                .build());
        cache.start();
    }

    public Optional<VolumeLease> leaseOf(String volumeId) {
        return Optional.ofNullable(leases.get(volumeId));
    }

    /** The leases held by each of {@code hostIds}: one pass over the leases, however many hosts are asked about. */
    public Map<String, List<VolumeLease>> heldBy(Collection<String> hostIds) {
        Set<String> asked = Set.copyOf(hostIds);
        return leases.values().stream().filter(l -> asked.contains(l.hostId())).collect(Collectors.groupingBy(VolumeLease::hostId));
    }

    private static String volumeId(ChildData node) {
        String prefix = VolumeLeases.ROOT + "/";
        String rest = node.getPath().startsWith(prefix) ? node.getPath().substring(prefix.length()) : "";
        return rest.isEmpty() || rest.contains("/") ? null : rest;
    }

    @Override
    public void close() {
        if (lifecycle.close()) {
            cache.close();
        }
    }
}
