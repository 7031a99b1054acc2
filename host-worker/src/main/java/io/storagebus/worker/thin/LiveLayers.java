package io.storagebus.worker.thin;

import java.nio.file.Path;
import java.util.Set;

import io.storagebus.worker.qmp.QmpClient;
import io.storagebus.worker.qmp.QmpException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running guest's side of live snapshots, merges and moves: moving the guest onto a new top
 * layer ({@code blockdev-snapshot-sync}, mode existing), streaming a layer into the one above it
 * ({@code block-stream}), and mirroring the active layer onto another domain's copy of the chain
 * and pivoting to it ({@code blockdev-mirror}, {@code job-complete}).
 */
final class LiveLayers {
    private static final Logger LOG = LoggerFactory.getLogger(LiveLayers.class);
    /** Block drivers of the nodes below a format node, which name the same file. */
    private static final Set<String> PROTOCOL_DRIVERS = Set.of("file", "host_device");

    private final String hostId;

    LiveLayers(String hostId) {
        this.hostId = hostId;
    }

    /** The guest writes to {@code overlay} from now on; the volume's node becomes the overlay's. */
    Future<Boolean> switchTo(QemuConnection qemu, WatchedVolume w, String overlay) {
        String node = "sb" + Integer.toHexString(overlay.hashCode());
        return qemu.client().compose(c -> c.execute("blockdev-snapshot-sync", new JsonObject()
                        .put("node-name", w.nodeName).put("snapshot-file", overlay).put("snapshot-node-name", node)
                        .put("format", "qcow2").put("mode", "existing")))
                .map(r -> {
                    LOG.info("host {}: guest on {} switched volume {} from node {} to the new layer {} ({})", hostId, w.socket,
                            w.volumeId, w.nodeName, node, overlay);
                    w.nodeName = node;
                    return true;
                });
    }

    /** Streams the layer below {@code child} into it; completes when QEMU's job ended and the child backs onto {@code base}. */
    Future<Boolean> stream(QemuConnection qemu, WatchedVolume w, Path child, Path base) {
        return qemu.client().compose(c -> c.execute("query-named-block-nodes").compose(nodes -> {
            String childNode = nodeOf((JsonArray) nodes, child, w.nodeName);
            String baseNode = base == null ? null : nodeOf((JsonArray) nodes, base, null);
            if (childNode == null || base != null && baseNode == null) {
                return Future.failedFuture(new QmpException("NodeNotFound", "QEMU on " + w.socket + " has no node for "
                        + (childNode == null ? child : base) + " in the chain of volume " + w.volumeId));
            }
            String jobId = "sb-stream-" + Integer.toHexString(child.hashCode());
            JsonObject args = new JsonObject().put("job-id", jobId).put("device", childNode);
            if (baseNode != null) {
                args.put("base-node", baseNode).put("backing-file", base.getFileName().toString());
            }
            return qemu.runJob(c, jobId, "block-stream", args).map(done -> {
                LOG.info("host {}: streamed the layer below {} into it in the guest on {}", hostId, child, w.socket);
                return true;
            });
        }));
    }

    /**
     * A live move: the guest's active layer mirrored onto {@code target} (a path; a block device
     * when {@code device}), which backs onto copies of the layers below when {@code syncTop}, then
     * the pivot as soon as the mirror is ready, and the source's nodes let go. {@code targetAdded}
     * hears the target's node name before the mirror starts. Completes with the bytes QEMU copied
     * once the guest writes to the target; fails with the guest still on the source, and the
     * target's node removed, otherwise.
     */
    Future<Long> mirror(QemuConnection qemu, WatchedVolume w, String jobId, String target, boolean device, String format,
                        boolean syncTop, long bytesPerSecond, java.util.function.Function<String, Future<Void>> targetAdded) {
        String node = "sbm" + Integer.toHexString(target.hashCode());
        JsonObject add = new JsonObject().put("driver", format).put("node-name", node)
                .put("file", new JsonObject().put("driver", device ? "host_device" : "file").put("filename", target));
        JsonObject mirror = new JsonObject().put("job-id", jobId).put("device", w.nodeName).put("target", node)
                .put("sync", syncTop ? "top" : "full").put("speed", bytesPerSecond);
        return qemu.client().compose(c -> c.execute("query-named-block-nodes").compose(before -> c.execute("blockdev-add", add)
                .compose(added -> targetAdded.apply(node).compose(v -> qemu.runMirror(c, jobId, mirror))
                        .recover(e -> c.execute("blockdev-del", new JsonObject().put("node-name", node))
                                .transform(ar -> Future.<Long>failedFuture(e))))
                .map(bytes -> {
                    String source = w.nodeName;
                    w.nodeName = node;
                    LOG.info("host {}: guest on {} moved volume {} live from node {} to {} ({}), {} bytes mirrored", hostId, w.socket,
                            w.volumeId, source, node, target, bytes);
                    letGo(c, (JsonArray) before, source);
                    return bytes;
                })));
    }

    /**
     * Closes the source's nodes once the guest has pivoted away: the top node, then the protocol
     * node under it, where they were added by name (a guest's {@code -blockdev}); nodes QEMU opened
     * itself go with their parent. A node that cannot go stays open, which only holds its file.
     */
    private void letGo(QmpClient c, JsonArray nodes, String top) {
        String file = null;
        for (Object o : nodes) {
            JsonObject n = (JsonObject) o;
            if (top.equals(n.getString("node-name"))) {
                file = n.getString("file");
            }
        }
        String image = file;
        c.execute("blockdev-del", new JsonObject().put("node-name", top)).onComplete(ar -> {
            if (ar.failed()) {
                LOG.info("host {}: source node {} stays open: {}", hostId, top, ar.cause().getMessage());
                return;
            }
            for (Object o : nodes) {
                JsonObject n = (JsonObject) o;
                if (image != null && image.equals(n.getString("file")) && PROTOCOL_DRIVERS.contains(n.getString("drv"))) {
                    c.execute("blockdev-del", new JsonObject().put("node-name", n.getString("node-name")))
                            .onFailure(e -> LOG.debug("host {}: protocol node {} stays open: {}", hostId, n.getString("node-name"), e.getMessage()));
                }
            }
        });
    }

    /** The node whose image is {@code file}: the watched top node when the file is the top. */
    static String nodeOf(JsonArray nodes, Path file, String topNode) {
        for (Object o : nodes) {
            JsonObject node = (JsonObject) o;
            String name = node.getString("node-name");
            String image = node.getString("file");
            if (image != null && image.startsWith("json:")) {
                // A node QEMU opened with options (an overlay a snapshot added) names its file in a JSON pseudo-filename.
                image = new JsonObject(image.substring("json:".length())).getJsonObject("file", new JsonObject()).getString("filename");
            }
            // By file name: a guest may open a layer where its host activated it (a link to a device), not at its path on
            // the storage; the names are the same, and unique, being the volume's id and the layer's generation.
            if (name != null && image != null && !PROTOCOL_DRIVERS.contains(node.getString("drv"))
                    && Path.of(image).getFileName().equals(file.getFileName())) {
                return topNode != null && name.equals(topNode) ? topNode : name;
            }
        }
        return null;
    }
}
