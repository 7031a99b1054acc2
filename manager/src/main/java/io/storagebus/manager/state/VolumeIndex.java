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
 * of every volume grew with the pool. A FAILED volume does not hold its name. A volume in the
 * trash is in neither its domain's list nor its names, but in the trash, longest there first.
 */
final class VolumeIndex {
    /** Oldest first: a volume keeps its place in its domain's list for as long as it exists. */
    private final SortedIndex<VolumeState> byDomain = SortedIndex.grouped(VolumeState::getDomainId,
            v -> Page.oldestFirst(v.getCreatedAt(), v.getId()));
    private final SortedIndex<VolumeState> trash = SortedIndex.of(v -> Page.oldestFirst(v.getTrashedAt(), v.getId()));
    /** Each domain's trash. */
    private final Map<String, TrashTotals> trashByDomain = new ConcurrentHashMap<>();
    private final Map<String, Map<String, String>> names = new ConcurrentHashMap<>();
    private final Map<String, Set<String>> clones = new ConcurrentHashMap<>();

    /**
     * A volume's record replaced {@code before} (null: new) with {@code after} (null: gone). The
     * new record goes in before the old one comes out, so a reader never misses the volume.
     */
    synchronized void changed(VolumeState before, VolumeState after) {
        byDomain.accept(listed(before), listed(after));
        trash.accept(trashed(before), trashed(after));
        count(trashed(before), -1);
        count(trashed(after), 1);
        if (after != null) {
            add(after);
        }
        if (before != null) {
            removeStale(before, after);
        }
    }

    /** Takes out what of {@code before} {@code after} (null: gone) no longer is. */
    private void removeStale(VolumeState before, VolumeState after) {
        boolean sameDomain = after != null && after.getDomainId().equals(before.getDomainId());
        boolean holdsName = sameDomain && after.getName().equals(before.getName()) && holdsName(after);
        Map<String, String> names = this.names.get(before.getDomainId());
        if (!holdsName && names != null) {
            names.remove(before.getName(), before.getId());
        }
        boolean sameTemplate = after != null && java.util.Objects.equals(after.getParentVolumeId(), before.getParentVolumeId());
        if (!sameTemplate && before.getParentVolumeId() != null) {
            Set<String> of = clones.get(before.getParentVolumeId());
            if (of != null) {
                of.remove(before.getId());
                if (of.isEmpty()) {
                    clones.remove(before.getParentVolumeId(), of);
                }
            }
        }
    }

    private void count(VolumeState trashed, int sign) {
        if (trashed != null) {
            TrashTotals now = trashByDomain.getOrDefault(trashed.getDomainId(), TrashTotals.EMPTY).plus(trashed, sign);
            if (now.volumes() == 0) {
                trashByDomain.remove(trashed.getDomainId());
            } else {
                trashByDomain.put(trashed.getDomainId(), now);
            }
        }
    }

    TrashTotals trashOf(String domainId) {
        return trashByDomain.getOrDefault(domainId, TrashTotals.EMPTY);
    }

    private static boolean holdsName(VolumeState v) {
        return v.getStatus() != VolumeStatus.FAILED && v.getStatus() != VolumeStatus.TRASHED;
    }

    private static VolumeState listed(VolumeState v) {
        return v == null || v.getStatus() == VolumeStatus.TRASHED ? null : v;
    }

    private static VolumeState trashed(VolumeState v) {
        return v != null && v.getStatus() == VolumeStatus.TRASHED && v.getTrashedAt() != null ? v : null;
    }

    private void add(VolumeState v) {
        if (holdsName(v)) {
            names.computeIfAbsent(v.getDomainId(), d -> new ConcurrentHashMap<>()).put(v.getName(), v.getId());
        }
        if (v.getParentVolumeId() != null) {
            clones.computeIfAbsent(v.getParentVolumeId(), p -> ConcurrentHashMap.newKeySet()).add(v.getId());
        }
    }

    /** The domain's volumes, oldest first. */
    List<VolumeState> inDomain(String domainId) {
        return byDomain.list(domainId);
    }

    /** A page of the domain's volumes, oldest first. */
    Page<VolumeState> page(String domainId, String cursor, int limit) {
        return byDomain.page(domainId, cursor, limit, v -> true);
    }

    int count(String domainId) {
        return byDomain.count(domainId);
    }

    /** A page of the trash, longest there first, of the volumes {@code wanted} keeps. */
    Page<VolumeState> trash(String cursor, int limit, java.util.function.Predicate<VolumeState> wanted) {
        return trash.page(cursor, limit, wanted);
    }

    /** The id of the domain's volume that holds {@code name} (any status but FAILED and TRASHED). */
    Optional<String> named(String domainId, String name) {
        return Optional.ofNullable(names.getOrDefault(domainId, Map.of()).get(name));
    }

    /** The ids of the volumes cloned from {@code templateId}. */
    List<String> clonesOf(String templateId) {
        return List.copyOf(clones.getOrDefault(templateId, Set.of()));
    }
}
