package io.storagebus.manager.state;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;

/**
 * The state view's volumes by domain, by name within their domain, and by the template they
 * were cloned from, kept as records come and go: what a request checks (is the name free? does
 * the volume back clones?) and lists costs the same at 100 volumes as at 100,000, where a scan
 * of every volume grew with the pool. A FAILED volume does not hold its name.
 */
final class VolumeIndex {
    private final Map<String, Map<String, VolumeState>> byDomain = new ConcurrentHashMap<>();
    private final Map<String, Map<String, String>> names = new ConcurrentHashMap<>();
    private final Map<String, Set<String>> clones = new ConcurrentHashMap<>();

    /** A volume's record replaced {@code before} (null: new) with {@code after} (null: gone). */
    synchronized void changed(VolumeState before, VolumeState after) {
        if (before != null) {
            remove(before, after == null ? null : after.getDomainId());
        }
        if (after != null) {
            add(after);
        }
    }

    private void remove(VolumeState v, String stillInDomain) {
        if (!v.getDomainId().equals(stillInDomain)) {
            removeFrom(byDomain, v.getDomainId(), v.getId());
        }
        Map<String, String> inDomain = names.get(v.getDomainId());
        if (inDomain != null) {
            inDomain.remove(v.getName(), v.getId());
        }
        if (v.getParentVolumeId() != null) {
            Set<String> of = clones.get(v.getParentVolumeId());
            if (of != null) {
                of.remove(v.getId());
                if (of.isEmpty()) {
                    clones.remove(v.getParentVolumeId(), of);
                }
            }
        }
    }

    private void add(VolumeState v) {
        byDomain.computeIfAbsent(v.getDomainId(), d -> new ConcurrentHashMap<>()).put(v.getId(), v);
        if (v.getStatus() != VolumeStatus.FAILED) {
            names.computeIfAbsent(v.getDomainId(), d -> new ConcurrentHashMap<>()).put(v.getName(), v.getId());
        }
        if (v.getParentVolumeId() != null) {
            clones.computeIfAbsent(v.getParentVolumeId(), p -> ConcurrentHashMap.newKeySet()).add(v.getId());
        }
    }

    private static <V> void removeFrom(Map<String, Map<String, V>> index, String key, String id) {
        Map<String, V> of = index.get(key);
        if (of != null) {
            of.remove(id);
            if (of.isEmpty()) {
                index.remove(key, of);
            }
        }
    }

    /** The domain's volumes, in no order. */
    List<VolumeState> inDomain(String domainId) {
        return List.copyOf(byDomain.getOrDefault(domainId, Map.of()).values());
    }

    /** The id of the domain's volume that holds {@code name} (any status but FAILED). */
    Optional<String> named(String domainId, String name) {
        return Optional.ofNullable(names.getOrDefault(domainId, Map.of()).get(name));
    }

    /** The ids of the volumes cloned from {@code templateId}. */
    List<String> clonesOf(String templateId) {
        return List.copyOf(clones.getOrDefault(templateId, Set.of()));
    }
}
