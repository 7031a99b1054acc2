package io.storagebus.manager.state;

import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.DomainCapacity;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.MaintenanceState;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.VolumeState;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's materialized view of the compacted state topics (domains, volumes, tasks, maintenance, backups, backup policies,
 * the SPMs' capacity forecasts). It
 * reads them from the beginning on start, so a restarted manager knows everything it knew; it
 * keeps no database of its own.
 */
public final class StateView implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StateView.class);
    /** Below this many records a poll is decoded on the follower's thread alone: splitting costs more. */
    private static final int PARALLEL_DECODE = 64;
    static final List<String> TOPICS = List.of(Topics.DOMAIN_STATE, Topics.VOLUME_STATE, Topics.TASK_STATE,
            Topics.MAINTENANCE_STATE, Topics.BACKUP_STATE, Topics.BACKUP_POLICY_STATE, Topics.CAPACITY_STATE);

    /** What the view does with the records of one state topic. */
    interface Rows {
        String topic();

        /**
         * Turns a record into what {@link #put} takes: work that needs no order, done while records
         * are decoded on every core. The record itself unless the table keeps rows in another form.
         */
        default Object prepare(SpecificRecord record) {
            return record;
        }

        /** Applies a record, as {@link #prepare} made it; returns the volume it concerns, if any. */
        String put(Object prepared);

        /** Applies a tombstone of {@code key}; returns the volume it concerned, if any. */
        String remove(String key);

        /** Takes a record the manager is about to publish, unless its key is known. */
        boolean reserve(SpecificRecord record);

        /** Takes back a reservation whose publication failed. */
        void release(SpecificRecord record);
    }

    /**
     * One compacted state topic as a table: each key's latest record. {@code volumeOf} names the
     * volume a record (or the key of a removed one) concerns, for the volume listeners.
     */
    private static final class Table<T extends SpecificRecord> implements Rows {
        final String topic;
        final Class<T> type;
        final Function<T, String> key;
        final BiFunction<String, T, String> volumeOf;
        final boolean reservable;
        final Map<String, T> rows = new ConcurrentHashMap<>();
        /** Told of every change of a row: (before, after), either null for a row that came or went. */
        private BiConsumer<T, T> changed = (before, after) -> { };

        Table(String topic, Class<T> type, Function<T, String> key, BiFunction<String, T, String> volumeOf, boolean reservable) {
            this.topic = topic;
            this.type = type;
            this.key = key;
            this.volumeOf = volumeOf;
            this.reservable = reservable;
        }

        Table<T> indexedBy(BiConsumer<T, T> listener) {
            this.changed = changed.andThen(listener);
            return this;
        }

        @Override
        public String topic() {
            return topic;
        }

        @Override
        public String put(Object prepared) {
            T row = type.cast(prepared);
            String k = key.apply(row);
            changed.accept(rows.put(k, row), row);
            return volumeOf.apply(k, row);
        }

        @Override
        public String remove(String k) {
            T old = rows.remove(k);
            if (old != null) {
                changed.accept(old, null);
            }
            return volumeOf.apply(k, old);
        }

        @Override
        public boolean reserve(SpecificRecord record) {
            if (!reservable) {
                throw new IllegalArgumentException(topic + " records are not reserved: the manager updates them, it does not create them");
            }
            T row = type.cast(record);
            if (rows.putIfAbsent(key.apply(row), row) != null) {
                return false;
            }
            changed.accept(null, row);
            return true;
        }

        @Override
        public void release(SpecificRecord record) {
            T row = type.cast(record);
            if (rows.remove(key.apply(row), row)) {
                changed.accept(row, null);
            }
        }
    }

    private final MessageCodec codec = MessageCodec.standard();
    private final Table<DomainState> domains = new Table<>(Topics.DOMAIN_STATE, DomainState.class, DomainState::getId, (k, d) -> null, true);
    private final VolumeIndex volumeIndex = new VolumeIndex();
    private final Table<VolumeState> volumes = new Table<>(Topics.VOLUME_STATE, VolumeState.class, VolumeState::getId, (k, v) -> k, true)
            .indexedBy(volumeIndex::changed);
    private final TaskTable tasks = new TaskTable();
    private final Table<MaintenanceState> maintenance = new Table<>(Topics.MAINTENANCE_STATE, MaintenanceState.class,
            MaintenanceState::getDomainId, (k, m) -> null, false);
    /** Backups oldest first, all of them and each volume's (a deleted volume's too). */
    private final SortedIndex<BackupState> backupsByAge = SortedIndex.of(b -> Page.oldestFirst(b.getCreatedAt(), b.getBackupId()));
    private final SortedIndex<BackupState> backupsByVolume = SortedIndex.grouped(BackupState::getVolumeId,
            b -> Page.oldestFirst(b.getCreatedAt(), b.getBackupId()));
    private final Table<BackupState> backups = new Table<>(Topics.BACKUP_STATE, BackupState.class, BackupState::getBackupId,
            (k, b) -> b == null ? null : b.getVolumeId(), true).indexedBy(backupsByAge).indexedBy(backupsByVolume);
    private final SortedIndex<BackupPolicy> policiesByAge = SortedIndex.of(p -> Page.oldestFirst(p.getCreatedAt(), p.getVolumeId()));
    private final Table<BackupPolicy> policies = new Table<>(Topics.BACKUP_POLICY_STATE, BackupPolicy.class, BackupPolicy::getVolumeId,
            (k, p) -> k, false).indexedBy(policiesByAge);
    /** Written by the SPMs, not by a manager. */
    private final Table<DomainCapacity> capacity = new Table<>(Topics.CAPACITY_STATE, DomainCapacity.class, DomainCapacity::getDomainId,
            (k, c) -> null, false);
    private final Map<String, Rows> byTopic = Map.of(domains.topic, domains, volumes.topic, volumes, tasks.topic(), tasks,
            maintenance.topic, maintenance, backups.topic, backups, policies.topic, policies, capacity.topic, capacity);
    private final Map<Class<?>, Rows> byType = Map.of(DomainState.class, domains, VolumeState.class, volumes, TaskState.class, tasks,
            MaintenanceState.class, maintenance, BackupState.class, backups, BackupPolicy.class, policies, DomainCapacity.class, capacity);
    private final List<Consumer<String>> volumeListeners = new CopyOnWriteArrayList<>();
    private final TopicFollower follower;

    public StateView(KafkaConnection kafka) {
        this.follower = TopicFollower.batched(kafka, "state-view", TOPICS, this::applyAll);
    }

    public void start() {
        follower.start();
        follower.caughtUp().thenRun(() -> LOG.info("state view caught up: {} domains, {} volumes, {} tasks, {} maintenance requests",
                domains.rows.size(), volumes.rows.size(), tasks.size(), maintenance.rows.size()));
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
        return Optional.ofNullable(domains.rows.get(id));
    }

    /** The domain's free space and time to full as its pool's SPM last forecast them, if it has. */
    public Optional<DomainCapacity> capacity(String domainId) {
        return Optional.ofNullable(capacity.rows.get(domainId));
    }

    public Collection<DomainState> domains() {
        return domains.rows.values();
    }

    public Optional<VolumeState> volume(String id) {
        return Optional.ofNullable(volumes.rows.get(id));
    }

    public Collection<VolumeState> volumes() {
        return volumes.rows.values();
    }

    /** The domain's volumes, oldest first. */
    public List<VolumeState> volumesOf(String domainId) {
        return volumeIndex.inDomain(domainId);
    }

    /** A page of the domain's volumes, oldest first; {@code cursor} is the previous page's next (null: the first page). */
    public Page<VolumeState> volumesOf(String domainId, String cursor, int limit) {
        return volumeIndex.page(domainId, cursor, limit);
    }

    /** A page of the volumes in the trash, longest there first, of those {@code wanted} keeps. */
    public Page<VolumeState> trash(String cursor, int limit, Predicate<VolumeState> wanted) {
        return volumeIndex.trash(cursor, limit, wanted);
    }

    /** What the domain's trash holds. */
    public TrashTotals trashOf(String domainId) {
        return volumeIndex.trashOf(domainId);
    }

    public int volumeCount(String domainId) {
        return volumeIndex.count(domainId);
    }

    /** A page of the tasks, newest first, of those {@code wanted} keeps. */
    public Page<TaskState> tasks(String cursor, int limit, Predicate<TaskState> wanted) {
        return tasks.page(cursor, limit, wanted);
    }

    /** The domain's volume named {@code name}, unless it FAILED or is in the trash (either leaves its name free). */
    public Optional<VolumeState> volumeNamed(String domainId, String name) {
        return volumeIndex.named(domainId, name).flatMap(this::volume);
    }

    /** The volumes cloned from {@code templateId}, which therefore backs them. */
    public List<VolumeState> clonesOf(String templateId) {
        return volumeIndex.clonesOf(templateId).stream().map(this::volume).flatMap(Optional::stream).toList();
    }

    public Optional<TaskState> task(String id) {
        return tasks.get(id);
    }

    /** The tasks that are PENDING or RUNNING (finished ones are only paged: there are far more of them). */
    public Collection<TaskState> runningTasks() {
        return tasks.running();
    }

    /** Up to {@code max} ids of tasks that finished (SUCCEEDED or FAILED) before {@code before}, oldest first. */
    public List<String> tasksFinishedBefore(Instant before, int max) {
        return tasks.finishedBefore(before, max);
    }

    public Optional<BackupState> backup(String id) {
        return Optional.ofNullable(backups.rows.get(id));
    }

    public Collection<BackupState> backups() {
        return backups.rows.values();
    }

    /** A page of the backups, oldest first; of one volume's if {@code volumeId} is not null. */
    public Page<BackupState> backups(String volumeId, String cursor, int limit) {
        return volumeId == null ? backupsByAge.page(cursor, limit, b -> true) : backupsByVolume.page(volumeId, cursor, limit, b -> true);
    }

    /** The volume's backups, oldest first (a deleted volume's too). */
    public List<BackupState> backupsOf(String volumeId) {
        return backupsByVolume.list(volumeId);
    }

    /** The volume's backup policy, if it has one. */
    public Optional<BackupPolicy> backupPolicy(String volumeId) {
        return Optional.ofNullable(policies.rows.get(volumeId));
    }

    public Collection<BackupPolicy> backupPolicies() {
        return policies.rows.values();
    }

    /** A page of the backup policies, oldest first. */
    public Page<BackupPolicy> backupPolicies(String cursor, int limit) {
        return policiesByAge.page(cursor, limit, p -> true);
    }

    /**
     * Calls {@code listener} with a volume's id after a record about the volume was applied: its
     * state, one of its tasks or backups, its backup policy. Called on the view's consumer
     * thread, so the listener must only hand the id on.
     */
    public void onVolumeActivity(Consumer<String> listener) {
        volumeListeners.add(listener);
    }

    public void removeVolumeActivityListener(Consumer<String> listener) {
        volumeListeners.remove(listener);
    }

    /** The domain's latest maintenance request, as last published. */
    public Optional<MaintenanceState> maintenance(String domainId) {
        return Optional.ofNullable(maintenance.rows.get(domainId));
    }

    public Collection<MaintenanceState> maintenance() {
        return maintenance.rows.values();
    }

    /**
     * Records a state the manager itself is about to publish, so a client reads its own write at
     * once. Only new keys are taken: a later state from the topic must never be overwritten.
     */
    public boolean reserve(SpecificRecord record) {
        return table(record).reserve(record);
    }

    /** Takes back a reservation whose publication failed. */
    public void release(SpecificRecord record) {
        table(record).release(record);
    }

    private Rows table(SpecificRecord record) {
        Rows table = byType.get(record.getClass());
        if (table == null) {
            throw new IllegalArgumentException("not a state record: " + record.getSchema().getFullName());
        }
        return table;
    }

    /**
     * A record read from a state topic: its value decoded (null for a tombstone), the table that
     * takes it (null if none does) with the value prepared for it, or why it could not be decoded.
     */
    private record Decoded(ConsumerRecord<String, byte[]> record, SpecificRecord value, Rows table, Object prepared, String undecodable) {
    }

    /**
     * Decoding is most of what a record costs and needs no order, so a poll's records are decoded
     * on every core (a restart reads a million of them); they are applied in the topics' order.
     */
    private void applyAll(List<ConsumerRecord<String, byte[]>> records) {
        List<Decoded> decoded = (records.size() >= PARALLEL_DECODE ? records.parallelStream() : records.stream()).map(this::decode).toList();
        for (Decoded d : decoded) {
            String volumeId = apply(d);
            if (volumeId != null) {
                volumeListeners.forEach(l -> l.accept(volumeId));
            }
        }
    }

    private Decoded decode(ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            return new Decoded(record, null, null, null, null);
        }
        try {
            SpecificRecord value = codec.decode(record.value());
            Rows table = byType.get(value.getClass());
            if (table == null || !table.topic().equals(record.topic())) {
                return new Decoded(record, value, null, null, null);
            }
            return new Decoded(record, value, table, table.prepare(value), null);
        } catch (UndecodableRecordException e) {
            return new Decoded(record, null, null, null, e.getMessage());
        }
    }

    /** Applies a record; returns the volume it concerned, if any. */
    private String apply(Decoded d) {
        ConsumerRecord<String, byte[]> record = d.record();
        if (d.undecodable() != null) {
            LOG.warn("{}-{}@{}: undecodable state record skipped: {}", record.topic(), record.partition(), record.offset(), d.undecodable());
            return null;
        }
        if (d.value() == null) {
            // A tombstone: the entity is gone for good.
            Rows table = byTopic.get(record.topic());
            return table == null ? null : table.remove(record.key());
        }
        if (d.table() != null) {
            return d.table().put(d.prepared());
        }
        LOG.warn("{}-{}@{}: unexpected {} on a state topic, skipped",
                record.topic(), record.partition(), record.offset(), d.value().getSchema().getFullName());
        return null;
    }

    @Override
    public void close() {
        follower.close();
    }
}
