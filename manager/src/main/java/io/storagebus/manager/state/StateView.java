package io.storagebus.manager.state;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.MaintenanceState;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.VolumeState;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's materialized view of the compacted state topics (domains, volumes, tasks, maintenance, backups, backup policies). It
 * reads them from the beginning on start, so a restarted manager knows everything it knew; it
 * keeps no database of its own.
 */
public final class StateView implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StateView.class);
    static final List<String> TOPICS = List.of(Topics.DOMAIN_STATE, Topics.VOLUME_STATE, Topics.TASK_STATE,
            Topics.MAINTENANCE_STATE, Topics.BACKUP_STATE, Topics.BACKUP_POLICY_STATE);

    private final MessageCodec codec = MessageCodec.standard();
    private final Map<String, DomainState> domains = new ConcurrentHashMap<>();
    private final Map<String, VolumeState> volumes = new ConcurrentHashMap<>();
    private final Map<String, TaskState> tasks = new ConcurrentHashMap<>();
    private final Map<String, MaintenanceState> maintenance = new ConcurrentHashMap<>();
    private final Map<String, BackupState> backups = new ConcurrentHashMap<>();
    private final Map<String, BackupPolicy> policies = new ConcurrentHashMap<>();
    private final List<Consumer<String>> volumeListeners = new CopyOnWriteArrayList<>();
    private final TopicFollower follower;

    public StateView(KafkaConnection kafka) {
        this.follower = new TopicFollower(kafka, "state-view", TOPICS, this::apply);
    }

    public void start() {
        follower.start();
        follower.caughtUp().thenRun(() -> LOG.info("state view caught up: {} domains, {} volumes, {} tasks, {} maintenance requests",
                domains.size(), volumes.size(), tasks.size(), maintenance.size()));
    }

    /** Completes once every state record that existed at start has been applied. */
    public CompletableFuture<Void> caughtUp() {
        return follower.caughtUp();
    }

    /** Completes once every state record committed before the call is in the view. */
    public CompletableFuture<Void> sync() {
        return follower.sync();
    }

    public boolean isCaughtUp() {
        return follower.isCaughtUp();
    }

    public Optional<DomainState> domain(String id) {
        return Optional.ofNullable(domains.get(id));
    }

    public Collection<DomainState> domains() {
        return domains.values();
    }

    public Optional<VolumeState> volume(String id) {
        return Optional.ofNullable(volumes.get(id));
    }

    public Collection<VolumeState> volumes() {
        return volumes.values();
    }

    public Optional<TaskState> task(String id) {
        return Optional.ofNullable(tasks.get(id));
    }

    public Collection<TaskState> tasks() {
        return tasks.values();
    }

    public Optional<BackupState> backup(String id) {
        return Optional.ofNullable(backups.get(id));
    }

    public Collection<BackupState> backups() {
        return backups.values();
    }

    /** The volume's backup policy, if it has one. */
    public Optional<BackupPolicy> backupPolicy(String volumeId) {
        return Optional.ofNullable(policies.get(volumeId));
    }

    public Collection<BackupPolicy> backupPolicies() {
        return policies.values();
    }

    /**
     * Calls {@code listener} with a volume's id after a record about the volume was applied: its
     * state, one of its tasks or backups, its backup policy. Called on the view's consumer
     * thread, so the listener must only hand the id on.
     */
    public void onVolumeActivity(Consumer<String> listener) {
        volumeListeners.add(listener);
    }

    /** The domain's latest maintenance request, as last published. */
    public Optional<MaintenanceState> maintenance(String domainId) {
        return Optional.ofNullable(maintenance.get(domainId));
    }

    public Collection<MaintenanceState> maintenance() {
        return maintenance.values();
    }

    /**
     * Records a state the manager itself is about to publish, so a client reads its own write at
     * once. Only new keys are taken: a later state from the topic must never be overwritten.
     */
    public boolean reserve(SpecificRecord record) {
        if (record instanceof DomainState d) {
            return domains.putIfAbsent(d.getId(), d) == null;
        } else if (record instanceof VolumeState v) {
            return volumes.putIfAbsent(v.getId(), v) == null;
        } else if (record instanceof TaskState t) {
            return tasks.putIfAbsent(t.getId(), t) == null;
        } else if (record instanceof BackupState b) {
            return backups.putIfAbsent(b.getBackupId(), b) == null;
        }
        throw new IllegalArgumentException("not a state record: " + record.getSchema().getFullName());
    }

    /** Takes back a reservation whose publication failed. */
    public void release(SpecificRecord record) {
        if (record instanceof DomainState d) {
            domains.remove(d.getId(), d);
        } else if (record instanceof VolumeState v) {
            volumes.remove(v.getId(), v);
        } else if (record instanceof TaskState t) {
            tasks.remove(t.getId(), t);
        } else if (record instanceof BackupState b) {
            backups.remove(b.getBackupId(), b);
        }
    }

    private void apply(ConsumerRecord<String, byte[]> record) {
        String volumeId = record.value() == null ? removed(record) : applied(record);
        if (volumeId != null) {
            volumeListeners.forEach(l -> l.accept(volumeId));
        }
    }

    /** Applies a tombstone: the entity is gone for good. Returns the volume it concerned, if any. */
    private String removed(ConsumerRecord<String, byte[]> record) {
        switch (record.topic()) {
            case Topics.DOMAIN_STATE -> domains.remove(record.key());
            case Topics.VOLUME_STATE -> {
                volumes.remove(record.key());
                return record.key();
            }
            case Topics.TASK_STATE -> {
                TaskState t = tasks.remove(record.key());
                return t == null ? null : t.getVolumeId();
            }
            case Topics.MAINTENANCE_STATE -> maintenance.remove(record.key());
            case Topics.BACKUP_STATE -> {
                BackupState b = backups.remove(record.key());
                return b == null ? null : b.getVolumeId();
            }
            case Topics.BACKUP_POLICY_STATE -> {
                policies.remove(record.key());
                return record.key();
            }
            default -> { }
        }
        return null;
    }

    /** Applies a state record. Returns the volume it concerned, if any. */
    private String applied(ConsumerRecord<String, byte[]> record) {
        try {
            SpecificRecord decoded = codec.decode(record.value());
            if (decoded instanceof DomainState d) {
                domains.put(d.getId(), d);
            } else if (decoded instanceof VolumeState v) {
                volumes.put(v.getId(), v);
                return v.getId();
            } else if (decoded instanceof TaskState t) {
                tasks.put(t.getId(), t);
                return t.getVolumeId();
            } else if (decoded instanceof MaintenanceState m) {
                maintenance.put(m.getDomainId(), m);
            } else if (decoded instanceof BackupState b) {
                backups.put(b.getBackupId(), b);
                return b.getVolumeId();
            } else if (decoded instanceof BackupPolicy p) {
                policies.put(p.getVolumeId(), p);
                return p.getVolumeId();
            } else {
                LOG.warn("{}-{}@{}: unexpected {} on a state topic, skipped",
                        record.topic(), record.partition(), record.offset(), decoded.getSchema().getFullName());
            }
        } catch (UndecodableRecordException e) {
            LOG.warn("{}-{}@{}: undecodable state record skipped: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
        }
        return null;
    }

    @Override
    public void close() {
        follower.close();
    }
}
