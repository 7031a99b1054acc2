package io.storagebus.leases;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import io.storagebus.lifecycle.Lifecycle;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;

/** The hosts registered in ZooKeeper, kept current from watches. */
public final class HostDirectory implements AutoCloseable {

    /** A registered host: its pool, since when, and its ZooKeeper session. */
    public record Host(String hostId, String pool, Instant since, long sessionId) {
    }

    private final CuratorCache cache;
    private final ConcurrentSkipListMap<String, Host> hosts = new ConcurrentSkipListMap<>();
    private final Lifecycle lifecycle = new Lifecycle("host directory");
    private final List<Consumer<String>> departures = new CopyOnWriteArrayList<>();

    public HostDirectory(CuratorFramework client) {
        this.cache = CuratorCache.build(client, HostRegistration.ROOT);
    }

    public void start() {
        lifecycle.start();
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreatesAndChanges((before, node) -> update(node))
                .forDeletes(node -> {
                    String id = hostId(node);
                    if (id != null && hosts.remove(id) != null) {
                        departures.forEach(listener -> listener.accept(id));
                    }
                })
                .build());
        cache.start();
    }

    /** Told the id of every host whose registration ended (its session expired or it stopped). */
    public void addDepartureListener(Consumer<String> listener) {
        departures.add(listener);
    }

    /** The registered hosts, by id. */
    public List<Host> all() {
        return List.copyOf(hosts.values());
    }

    /** The registered hosts keyed and sorted by id, as they come and go: what a page of hosts reads. */
    public NavigableMap<String, Host> byId() {
        return Collections.unmodifiableNavigableMap(hosts);
    }

    private void update(ChildData node) {
        String id = hostId(node);
        if (id == null || node.getData() == null || node.getStat() == null) {
            return;
        }
        String[] lines = new String(node.getData(), StandardCharsets.UTF_8).split("\n");
        if (lines.length == 2) {
            hosts.put(id, new Host(id, lines[0], Instant.ofEpochMilli(Long.parseLong(lines[1])), node.getStat().getEphemeralOwner()));
        }
    }

    private static String hostId(ChildData node) {
        String prefix = HostRegistration.ROOT + "/";
        return node.getPath().startsWith(prefix) && node.getPath().length() > prefix.length()
                && !node.getPath().substring(prefix.length()).contains("/") ? node.getPath().substring(prefix.length()) : null;
    }

    @Override
    public void close() {
        if (lifecycle.close()) {
            cache.close();
        }
    }
}
