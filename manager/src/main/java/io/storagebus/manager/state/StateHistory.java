package io.storagebus.manager.state;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remembers in ZooKeeper how far the state topics reached, so that a Kafka which lost them is
 * noticed instead of served as an empty installation. A partition's end offset never goes back
 * in a living topic (compaction removes records, not offsets), so an end below the one
 * ZooKeeper saw means Kafka's data is gone: health says {@code DEGRADED} with the partitions,
 * and the mark is left as it was until an operator who restored what could be restored accepts
 * the loss ({@code POST /api/v1/state/accept-loss}).
 */
public final class StateHistory {
    private static final Logger LOG = LoggerFactory.getLogger(StateHistory.class);
    static final String PATH = "/storagebus/state-history";

    private final CuratorFramework zk;
    private final Admin admin;
    private volatile String lost;

    public StateHistory(CuratorFramework zk, Admin admin) {
        this.zk = zk;
        this.admin = admin;
    }

    /** Why the state topics are behind what ZooKeeper saw, or null while they are not. */
    public String lost() {
        return lost;
    }

    /**
     * Compares Kafka's state topics with the mark, then raises the mark to where they are now
     * unless they are behind it. Blocking: Kafka's admin client and ZooKeeper.
     */
    public void check() throws Exception {
        Stat stat = new Stat();
        Map<String, Long> seen = new TreeMap<>();
        try {
            seen.putAll(parse(new String(zk.getData().storingStatIn(stat).forPath(PATH), StandardCharsets.UTF_8)));
        } catch (KeeperException.NoNodeException e) {
            stat = null;
        }
        Map<String, Long> now = endOffsets();
        List<String> behind = new ArrayList<>();
        seen.forEach((partition, offset) -> {
            long end = now.getOrDefault(partition, -1L);
            if (end < offset) {
                behind.add(partition + " ends at " + (end < 0 ? "nothing (it is gone)" : end) + ", ZooKeeper saw " + offset);
            }
        });
        if (!behind.isEmpty()) {
            if (lost == null) {
                LOG.error("Kafka has lost StorageBus's state: {}. Domains, volumes, tasks and backups Kafka no longer has are not shown; "
                        + "see docs/OPERATIONS.md, 'Kafka lost the state'", String.join("; ", behind));
            }
            lost = String.join("; ", behind);
            return;
        }
        write(now, stat);
    }

    /** The operator restored what could be: the state as it is now becomes the mark. */
    public void acceptLoss() throws Exception {
        Stat stat = zk.checkExists().forPath(PATH);
        write(endOffsets(), stat);
        LOG.warn("the loss of Kafka's state was accepted: {} is the state from now on ({})", PATH, lost);
        lost = null;
    }

    private void write(Map<String, Long> offsets, Stat stat) throws Exception {
        StringBuilder b = new StringBuilder();
        offsets.forEach((partition, offset) -> b.append(partition).append('=').append(offset).append('\n'));
        byte[] data = b.toString().getBytes(StandardCharsets.UTF_8);
        try {
            if (stat == null) {
                zk.create().creatingParentsIfNeeded().forPath(PATH, data);
            } else {
                zk.setData().withVersion(stat.getVersion()).forPath(PATH, data);
            }
        } catch (KeeperException.NodeExistsException | KeeperException.BadVersionException raced) {
            // Another manager wrote it in between: the next check compares with theirs.
        }
    }

    private Map<String, Long> endOffsets() throws Exception {
        Map<String, TopicDescription> topics = admin.describeTopics(StateView.TOPICS).allTopicNames().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, OffsetSpec> latest = new java.util.HashMap<>();
        topics.values().forEach(t -> t.partitions().forEach(p -> latest.put(new TopicPartition(t.name(), p.partition()), OffsetSpec.latest())));
        Map<String, Long> ends = new TreeMap<>();
        for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> e
                : admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS).entrySet()) {
            ends.put(e.getKey().toString(), e.getValue().offset());
        }
        return ends;
    }

    /** The mark as stored: {@code topic-partition=offset} lines; one that does not read is left out. */
    static Map<String, Long> parse(String text) {
        Map<String, Long> offsets = new TreeMap<>();
        for (String line : text.split("\n")) {
            int eq = line.lastIndexOf('=');
            if (eq > 0) {
                try {
                    offsets.put(line.substring(0, eq), Long.parseLong(line.substring(eq + 1)));
                } catch (NumberFormatException ignored) {
                    // not a mark StorageBus wrote
                }
            }
        }
        return offsets;
    }
}
