package io.storagebus.driver.lvm;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.SnapshotStatus;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.StoredMetadata;

/**
 * One volume's LVs, as oVirt keeps a disk's layers: its head, the LV named by the volume id
 * ({@code del.<id>} while delinked), which carries the volume's tags and its chain's, and one
 * LV per later layer, {@code <id>+<generation>}, each holding a qcow2 layer whose backing file
 * is the layer below's {@code /dev/<vg>/<lv>}. The head holds generation 0 until that layer is
 * merged away; then it keeps only the tags, the volume's metadata LV. A volume without
 * snapshots is its head alone, as before snapshots existed.
 *
 * <p>Chain tags on the head: {@code sb_top=<generation>} (absent: 0) names the LV a guest
 * writes, {@code sb_made=<generation>} the newest layer ever made (so an undone snapshot's LV
 * name, which a host may still have active, is never used again), and each snapshot is
 * {@code sb_snap=<generation>:<status>:<createdAt>:<id>:<name>}, the generation being the
 * layer it froze. Tags are input from a stranger: one that does not
 * read is refused, never half believed.
 */
record LvChain(Lvm.Lv head, Map<Integer, Lvm.Lv> layers, int top, int made, List<Layer> snapshots) {
    static final String LAYER = "sb_layer";
    static final String TOP = "sb_top=";
    static final String SNAP = "sb_snap=";
    static final String MADE = "sb_made=";

    /** A frozen layer: snapshot {@code snapshotId} is the data of generation {@code generation}. */
    record Layer(int generation, SnapshotStatus status, long createdAt, String snapshotId, String name) {
        String tag() {
            return SNAP + generation + ":" + status + ":" + createdAt + ":" + snapshotId + ":" + name;
        }

        Layer withStatus(SnapshotStatus next) {
            return new Layer(generation, next, createdAt, snapshotId, name);
        }
    }

    /** The LV name of a layer above the head. {@code +} is in no volume id, so it never names a volume. */
    static String layerName(String volumeId, int generation) {
        return volumeId + "+" + generation;
    }

    /** An lvm2 selection of every LV of the volume: its head, live or delinked, and its layers. */
    static String selection(String volumeId) {
        return "lv_name=~\"^(" + LvmDriver.DELINKED.replace(".", "\\.") + ")?" + volumeId + "(\\+[0-9]+)?$\"";
    }

    /** The chains of these LVs (a whole VG's, or one volume's), by head; layers whose head is gone are left out. */
    static List<LvChain> of(String vg, List<Lvm.Lv> lvs) throws DriverException {
        return of(vg, lvs, null);
    }

    /** As {@link #of(String, List)}, but a chain whose tags do not read goes to {@code unreadable} instead of failing all. */
    static List<LvChain> of(String vg, List<Lvm.Lv> lvs, java.util.function.Consumer<DriverException> unreadable) throws DriverException {
        Map<String, Map<Integer, Lvm.Lv>> layersByVolume = new TreeMap<>();
        for (Lvm.Lv lv : lvs) {
            int plus = lv.name().lastIndexOf('+');
            if (plus > 0 && lv.tags().contains(LAYER)) {
                try {
                    layersByVolume.computeIfAbsent(lv.name().substring(0, plus), k -> new TreeMap<>())
                            .put(Integer.parseInt(lv.name().substring(plus + 1)), lv);
                } catch (NumberFormatException e) {
                    // not one of ours: a layer's generation is a number
                }
            }
        }
        List<LvChain> chains = new ArrayList<>();
        for (Lvm.Lv lv : lvs) {
            if (lv.tags().contains(LvmDriver.TAG)) {
                String id = lv.name().startsWith(LvmDriver.DELINKED) ? lv.name().substring(LvmDriver.DELINKED.length()) : lv.name();
                try {
                    chains.add(of(vg, lv, layersByVolume.getOrDefault(id, Map.of())));
                } catch (DriverException e) {
                    if (unreadable == null) {
                        throw e;
                    }
                    unreadable.accept(e);
                }
            }
        }
        return chains;
    }

    private static LvChain of(String vg, Lvm.Lv head, Map<Integer, Lvm.Lv> layers) throws DriverException {
        String where = "LV " + vg + "/" + head.name() + " refused: ";
        List<Layer> snapshots = new ArrayList<>();
        int top;
        int made;
        try {
            String topTag = head.tag(TOP);
            top = topTag == null ? 0 : Integer.parseInt(topTag);
            String madeTag = head.tag(MADE);
            made = madeTag == null ? 0 : Integer.parseInt(madeTag);
            for (String tag : head.tags()) {
                if (tag.startsWith(SNAP)) {
                    String[] f = tag.substring(SNAP.length()).split(":", 5);
                    if (f.length != 5 || !VolumeUri.ID.matcher(f[3]).matches() || !StoredMetadata.isName(f[4])) {
                        throw new IllegalArgumentException("tag " + tag + " is no snapshot");
                    }
                    snapshots.add(new Layer(Integer.parseInt(f[0]), SnapshotStatus.valueOf(f[1]), Long.parseLong(f[2]), f[3], f[4]));
                }
            }
        } catch (IllegalArgumentException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, where + "its chain tags do not read (" + e.getMessage() + ")");
        }
        snapshots.sort(Comparator.comparingInt(Layer::generation));
        LvChain chain = new LvChain(head, layers, top, made, List.copyOf(snapshots));
        for (int generation : chain.generations()) {
            if (generation > 0 && !layers.containsKey(generation)) {
                throw new DriverException(DriverException.Code.IO_ERROR, where + "its chain names layer " + generation
                        + ", but there is no LV " + layerName(chain.volumeId(), generation));
            }
        }
        for (int i = 1; i < snapshots.size(); i++) {
            if (snapshots.get(i).generation() == snapshots.get(i - 1).generation()) {
                throw new DriverException(DriverException.Code.IO_ERROR, where + "two snapshots freeze layer " + snapshots.get(i).generation());
            }
        }
        if (!snapshots.isEmpty() && snapshots.get(snapshots.size() - 1).generation() >= top) {
            throw new DriverException(DriverException.Code.IO_ERROR, where + "a snapshot froze layer "
                    + snapshots.get(snapshots.size() - 1).generation() + ", which is not below the top " + top);
        }
        return chain;
    }

    String volumeId() {
        return head.name().startsWith(LvmDriver.DELINKED) ? head.name().substring(LvmDriver.DELINKED.length()) : head.name();
    }

    /** The generations that hold the volume's data, oldest first: every snapshot's layer, then the top. */
    List<Integer> generations() {
        List<Integer> generations = new ArrayList<>(snapshots.stream().map(Layer::generation).toList());
        generations.add(top);
        return generations;
    }

    Lvm.Lv lv(int generation) {
        return generation == 0 ? head : layers.get(generation);
    }

    Lvm.Lv topLv() {
        return lv(top);
    }

    /** The LVs that hold the volume's data, oldest first: what a guest's QEMU opens. */
    List<Lvm.Lv> dataLvs() {
        return generations().stream().map(this::lv).toList();
    }

    /** Every LV of the volume: the head (data or metadata only) and every layer, referenced or left over. */
    List<Lvm.Lv> allLvs() {
        List<Lvm.Lv> all = new ArrayList<>();
        all.add(head);
        all.addAll(layers.values());
        return all;
    }

    boolean active() {
        return allLvs().stream().anyMatch(Lvm.Lv::active);
    }

    /** A generation no LV of the volume ever had, nor has now (one left over by a snapshot that failed half way). */
    int nextGeneration() {
        return Math.max(Math.max(top, made), layers.keySet().stream().mapToInt(Integer::intValue).max().orElse(0)) + 1;
    }

    Optional<Layer> snapshot(String snapshotId) {
        return snapshots.stream().filter(l -> l.snapshotId().equals(snapshotId)).findFirst();
    }

    /** The generation right above a frozen layer: the next snapshot's layer, or the top. */
    int childOf(Layer layer) {
        int i = snapshots.indexOf(layer);
        return i + 1 < snapshots.size() ? snapshots.get(i + 1).generation() : top;
    }

    /** The snapshot below this one, or empty for the base. */
    Optional<Layer> parentOf(Layer layer) {
        int i = snapshots.indexOf(layer);
        return i > 0 ? Optional.of(snapshots.get(i - 1)) : Optional.empty();
    }
}
