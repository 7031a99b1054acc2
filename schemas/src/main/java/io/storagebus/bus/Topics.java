package io.storagebus.bus;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;

/** Every topic StorageBus uses, in one place. docs/EVENTS.md, "Topics", has the map. */
public final class Topics {
    /** Public storage events (VolumeCreated, CommandFailed, ...), keyed by volume or domain id. */
    public static final String EVENTS = "storagebus.events";
    /** Records that could not be decoded or applied, with the reason in headers. */
    public static final String DEAD_LETTER = "storagebus.deadletter";
    /** Compacted state topics: the manager's source of truth, keyed by id. */
    public static final String DOMAIN_STATE = "storagebus.state.domains";
    public static final String VOLUME_STATE = "storagebus.state.volumes";
    public static final String TASK_STATE = "storagebus.state.tasks";
    /** Compacted (key: backup id): every backup and its manifest. */
    public static final String BACKUP_STATE = "storagebus.state.backups";
    /** Compacted (key: volume id): each volume's backup schedule and retention, written by the active manager. */
    public static final String BACKUP_POLICY_STATE = "storagebus.state.backup-policies";
    /** Compacted, keyed by domain id: each domain's latest maintenance request. */
    public static final String MAINTENANCE_STATE = "storagebus.state.maintenance";
    /** Compacted, keyed by domain id: each domain's free space and time to full as its pool's SPM forecasts them. */
    public static final String CAPACITY_STATE = "storagebus.state.capacity";
    /**
     * Subscribers' registrations and heartbeats (SubscriberHeartbeat), compacted, keyed by
     * subscriber id. Timestamps are the broker's (LogAppendTime), so liveness is judged on one
     * clock however skewed the subscribers' are.
     */
    public static final String SUBSCRIBERS = "storagebus.subscribers";
    /** Answers to maintenance requests, keyed by request id: MaintenanceVote and DomainDisconnected. */
    public static final String MAINTENANCE = "storagebus.maintenance";
    /**
     * Hosts' answers to CheckDomainStorage (DomainStorageChecked), keyed by check id: a manager
     * stores a domain only once a host of its pool saw the storage. Of no use once answered.
     */
    public static final String STORAGE_CHECKS = "storagebus.storage-checks";

    /** Host ids become part of topic and znode names too. */
    public static final Pattern HOST_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");

    /** Subscriber ids: {@code host:<hostId>} are the host workers; {@code storagebus} is reserved for StorageBus itself. */
    public static final Pattern SUBSCRIBER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}");

    /** Pool names become part of topic and znode names, so they are kept simple. */
    public static final Pattern POOL_NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

    /** Header naming the full Avro type of a record, for consumers that route before decoding. */
    public static final String TYPE_HEADER = "sb-type";

    private Topics() {
    }

    /** What the names of host topics start with. */
    public static final String HOST_TOPIC_PREFIX = "storagebus.host.";

    /** What the names of a pool's topics start with. */
    public static String poolTopicPrefix(String pool) {
        if (!POOL_NAME.matcher(pool).matches()) {
            throw new IllegalArgumentException("invalid pool name '" + pool + "': " + POOL_NAME.pattern());
        }
        return "storagebus.pool." + pool + ".";
    }

    /** Commands only the SPM of the pool carries out; one partition keeps them in order. */
    public static String spmCommands(String pool) {
        return poolTopicPrefix(pool) + "spm-commands";
    }

    /** Commands for one host (prepare, teardown); one partition keeps them in order. */
    public static String hostCommands(String hostId) {
        if (!HOST_ID.matcher(hostId).matches()) {
            throw new IllegalArgumentException("invalid host id '" + hostId + "': " + HOST_ID.pattern());
        }
        return HOST_TOPIC_PREFIX + hostId + ".commands";
    }

    /** Whether workers carry out what is on the topic: a pool's SPM commands or a host's commands. */
    public static boolean carriesCommands(String topic) {
        return topic.startsWith(HOST_TOPIC_PREFIX) || topic.startsWith("storagebus.pool.") && topic.endsWith(".spm-commands");
    }

    public static NewTopic hostCommandTopic(String hostId, short replication) {
        return new NewTopic(hostCommands(hostId), 1, replication);
    }

    /**
     * Long jobs the pool's SPM accepted and has not finished (compacted, key: task id, value: the
     * command; a tombstone once the outcome is published). A new SPM term resumes what is there.
     */
    public static String spmJobs(String pool) {
        return spmCommands(pool).replace(".spm-commands", ".spm-jobs");
    }

    /**
     * Hosts' reports of thin volumes' highest write offsets to the pool's SPM (key: volume id).
     * Transient: once answered they are of no use, so they are kept for an hour only.
     */
    public static String watermarks(String pool) {
        return spmCommands(pool).replace(".spm-commands", ".watermarks");
    }

    public static List<NewTopic> shared(short replication) {
        List<NewTopic> topics = new ArrayList<>();
        topics.add(new NewTopic(EVENTS, 3, replication));
        topics.add(new NewTopic(DEAD_LETTER, 1, replication));
        for (String state : List.of(DOMAIN_STATE, VOLUME_STATE, TASK_STATE, MAINTENANCE_STATE, BACKUP_STATE, BACKUP_POLICY_STATE, CAPACITY_STATE)) {
            // Compaction cleans closed segments only: with Kafka's defaults (1 GiB, 7 days) a
            // state topic's records were never compacted, and a restart read every version of
            // every entity. Hourly 64 MiB segments, cleaned once a tenth is dirty, keep a
            // restart's read close to one record per entity.
            topics.add(new NewTopic(state, 3, replication).configs(Map.of(
                    TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                    TopicConfig.MIN_COMPACTION_LAG_MS_CONFIG, "60000",
                    TopicConfig.SEGMENT_MS_CONFIG, "3600000",
                    TopicConfig.SEGMENT_BYTES_CONFIG, Integer.toString(64 << 20),
                    TopicConfig.MIN_CLEANABLE_DIRTY_RATIO_CONFIG, "0.1")));
        }
        topics.add(new NewTopic(SUBSCRIBERS, 1, replication).configs(Map.of(
                TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                TopicConfig.MESSAGE_TIMESTAMP_TYPE_CONFIG, "LogAppendTime")));
        // One partition: a request's votes and host answers are read in the order they came.
        topics.add(new NewTopic(MAINTENANCE, 1, replication).configs(Map.of(TopicConfig.RETENTION_MS_CONFIG, "604800000")));
        topics.add(new NewTopic(STORAGE_CHECKS, 1, replication).configs(Map.of(TopicConfig.RETENTION_MS_CONFIG, "3600000")));
        return topics;
    }

    /** The pool's command topic, its jobs topic and its watermark topic. */
    public static List<NewTopic> poolTopics(String pool, short replication) {
        return List.of(new NewTopic(spmCommands(pool), 1, replication),
                new NewTopic(watermarks(pool), 1, replication).configs(Map.of(TopicConfig.RETENTION_MS_CONFIG, "3600000")),
                new NewTopic(spmJobs(pool), 1, replication).configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)));
    }

    /** Creates whichever of the topics do not exist yet; safe to call from every process. */
    public static void ensure(Admin admin, Collection<NewTopic> topics) {
        for (var created : admin.createTopics(topics).values().entrySet()) {
            try {
                created.getValue().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw new IllegalStateException("cannot create topic " + created.getKey() + ": " + e.getCause().getMessage(), e.getCause());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while creating topics", e);
            } catch (TimeoutException e) {
                throw new IllegalStateException("Kafka did not create topic " + created.getKey() + " within 30 s", e);
            }
        }
    }
}
