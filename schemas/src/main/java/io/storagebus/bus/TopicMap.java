package io.storagebus.bus;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

import io.storagebus.schema.BackupCompleted;
import io.storagebus.schema.BackupDeleted;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupProgress;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.BackupVolume;
import io.storagebus.schema.CancelTask;
import io.storagebus.schema.CapacityAlert;
import io.storagebus.schema.CheckDomainStorage;
import io.storagebus.schema.CloneVolume;
import io.storagebus.schema.CommandFailed;
import io.storagebus.schema.CopyVolume;
import io.storagebus.schema.MaintenanceDraining;
import io.storagebus.schema.MoveVolume;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DeleteBackup;
import io.storagebus.schema.DeleteSnapshot;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.DomainActivated;
import io.storagebus.schema.DomainDetached;
import io.storagebus.schema.DomainCapacity;
import io.storagebus.schema.DomainDisconnected;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.DomainStorageChecked;
import io.storagebus.schema.GuestPaused;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.GuestStopped;
import io.storagebus.schema.GrowGuestDisk;
import io.storagebus.schema.GuestDiskGrown;
import io.storagebus.schema.ImageTransferred;
import io.storagebus.schema.LayerChangeDone;
import io.storagebus.schema.MirrorDone;
import io.storagebus.schema.MirrorVolume;
import io.storagebus.schema.MaintenanceAborted;
import io.storagebus.schema.MaintenanceCancelled;
import io.storagebus.schema.MaintenanceCompleted;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.MaintenanceStarted;
import io.storagebus.schema.MaintenanceState;
import io.storagebus.schema.MaintenanceVote;
import io.storagebus.schema.MaintenanceVoteCounted;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.PrepareVolume;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.RestoreBackup;
import io.storagebus.schema.SnapshotCreated;
import io.storagebus.schema.SnapshotDeleted;
import io.storagebus.schema.ResizeVolume;
import io.storagebus.schema.TransferImage;
import io.storagebus.schema.UntrashVolume;
import io.storagebus.schema.VolumeTrashed;
import io.storagebus.schema.VolumeUntrashed;
import io.storagebus.schema.SnapshotVolume;
import io.storagebus.schema.StreamLayer;
import io.storagebus.schema.SubscriberHeartbeat;
import io.storagebus.schema.SwitchToLayer;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TeardownVolume;
import io.storagebus.schema.UnmonitorVolume;
import io.storagebus.schema.VolumeCopied;
import io.storagebus.schema.VolumeMoved;
import io.storagebus.schema.VolumeCopyProgress;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeDeleted;
import io.storagebus.schema.VolumeResized;
import io.storagebus.schema.VolumeExtendFailed;
import io.storagebus.schema.VolumeExtended;
import io.storagebus.schema.VolumeLeaseLost;
import io.storagebus.schema.VolumeLeaseTakenOver;
import io.storagebus.schema.VolumePrepared;
import io.storagebus.schema.VolumeRestored;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeTornDown;
import io.storagebus.schema.VolumeWatermark;
import org.apache.avro.specific.SpecificRecord;

/**
 * Which record types go on which topic, and who writes each. The workers' command handlers are
 * checked against it (every command the map puts on their topic has a handler), the workers'
 * issuer policy reads who may send a command from it, and a test holds docs/EVENTS.md's topic
 * table to it.
 */
public final class TopicMap {
    /** Who writes a record, named as its envelope's issuer starts. */
    public enum Writer {
        MANAGER("manager:"), HOST("host:"), SUBSCRIBER("subscriber:");

        private final String issuerPrefix;

        Writer(String issuerPrefix) {
            this.issuerPrefix = issuerPrefix;
        }

        /** Whether an envelope's issuer names a writer of this kind. */
        public boolean issued(String issuer) {
            return issuer != null && issuer.startsWith(issuerPrefix);
        }

        public String issuerPrefix() {
            return issuerPrefix;
        }
    }

    /**
     * One topic: its name ({@code <pool>} and {@code <hostId>} stand for the pool's and host's
     * names), and each record type on it with the kind of party that writes it.
     */
    public record Topic(String name, Map<Class<? extends SpecificRecord>, Writer> records) {
        public Topic {
            records = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(records));
        }

        public Set<Class<? extends SpecificRecord>> types() {
            return records.keySet();
        }

        /** Who writes {@code type} on this topic, if the topic carries it. */
        public Optional<Writer> writerOf(Class<?> type) {
            return Optional.ofNullable(records.get(type));
        }

        /** The same topic carrying {@code types} too, written by {@code writer}. */
        @SafeVarargs
        public final Topic and(Writer writer, Class<? extends SpecificRecord>... types) {
            Map<Class<? extends SpecificRecord>, Writer> more = new LinkedHashMap<>(records);
            for (Class<? extends SpecificRecord> type : types) {
                more.put(type, writer);
            }
            return new Topic(name, more);
        }

        /** Whether a concrete topic name is this topic (for the templated names, of any pool or host). */
        public boolean names(String topic) {
            if (!name.contains("<")) {
                return name.equals(topic);
            }
            String prefix = name.substring(0, name.indexOf('<'));
            String suffix = name.substring(name.indexOf('>') + 1);
            return topic.startsWith(prefix) && topic.endsWith(suffix) && topic.length() > prefix.length() + suffix.length();
        }
    }

    public static final Topic EVENTS = topic(Topics.EVENTS, Writer.HOST, VolumeCreated.class, VolumeCopyProgress.class, VolumeCopied.class,
            VolumeMoved.class,            VolumePrepared.class, VolumeTornDown.class, VolumeLeaseLost.class, VolumeLeaseTakenOver.class, VolumeExtended.class, VolumeExtendFailed.class,
            CapacityAlert.class, GuestPaused.class, GuestResumed.class, GuestStopped.class, CommandFailed.class, SnapshotCreated.class, SnapshotDeleted.class,
            VolumeDeleted.class, VolumeTrashed.class, VolumeUntrashed.class, VolumeResized.class, ImageTransferred.class, BackupProgress.class, BackupCompleted.class, BackupDeleted.class, VolumeRestored.class)
            .and(Writer.MANAGER, MaintenanceRequested.class, MaintenanceVoteCounted.class, MaintenanceAborted.class, MaintenanceDraining.class, MaintenanceStarted.class, MaintenanceCompleted.class,
                    MaintenanceCancelled.class, DomainActivated.class, DomainDetached.class);
    public static final Topic SUBSCRIBERS = topic(Topics.SUBSCRIBERS, Writer.SUBSCRIBER, SubscriberHeartbeat.class);
    /** Hosts vote too, as subscribers {@code host:<hostId>}. */
    public static final Topic MAINTENANCE = topic(Topics.MAINTENANCE, Writer.SUBSCRIBER, MaintenanceVote.class)
            .and(Writer.HOST, DomainDisconnected.class);
    public static final Topic STORAGE_CHECKS = topic(Topics.STORAGE_CHECKS, Writer.HOST, DomainStorageChecked.class);
    public static final Topic MAINTENANCE_STATE = topic(Topics.MAINTENANCE_STATE, Writer.MANAGER, MaintenanceState.class);
    public static final Topic DOMAIN_STATE = topic(Topics.DOMAIN_STATE, Writer.MANAGER, DomainState.class);
    /** The manager writes what a request starts, the SPM and hosts what came of it. */
    public static final Topic VOLUME_STATE = topic(Topics.VOLUME_STATE, Writer.MANAGER, VolumeState.class);
    public static final Topic TASK_STATE = topic(Topics.TASK_STATE, Writer.MANAGER, TaskState.class);
    public static final Topic BACKUP_STATE = topic(Topics.BACKUP_STATE, Writer.MANAGER, BackupState.class);
    public static final Topic BACKUP_POLICY_STATE = topic(Topics.BACKUP_POLICY_STATE, Writer.MANAGER, BackupPolicy.class);
    /** The SPM's forecast of each domain's time to full, for the manager's view. */
    public static final Topic CAPACITY_STATE = topic(Topics.CAPACITY_STATE, Writer.HOST, DomainCapacity.class);
    public static final Topic SPM_COMMANDS = topic("storagebus.pool.<pool>.spm-commands", Writer.MANAGER, CreateVolume.class,
            CopyVolume.class, MoveVolume.class, CancelTask.class, CloneVolume.class, DeleteVolume.class, SnapshotVolume.class, DeleteSnapshot.class, BackupVolume.class,
            RestoreBackup.class, DeleteBackup.class, ResizeVolume.class, UntrashVolume.class, TransferImage.class)
            .and(Writer.HOST, LayerChangeDone.class, MirrorDone.class, GuestDiskGrown.class);
    /** The SPM's own record of the long commands it accepted: the same commands, as their senders wrote them. */
    public static final Topic SPM_JOBS = topic("storagebus.pool.<pool>.spm-jobs", Writer.MANAGER, CopyVolume.class, MoveVolume.class, CancelTask.class, DeleteVolume.class,
            BackupVolume.class, RestoreBackup.class, DeleteBackup.class, DeleteSnapshot.class, TransferImage.class)
            .and(Writer.HOST, LayerChangeDone.class, MirrorVolume.class);
    public static final Topic WATERMARKS = topic("storagebus.pool.<pool>.watermarks", Writer.HOST, VolumeWatermark.class);
    public static final Topic HOST_COMMANDS = topic("storagebus.host.<hostId>.commands", Writer.MANAGER, PrepareVolume.class,
            TeardownVolume.class, MonitorVolume.class, UnmonitorVolume.class, DisconnectDomain.class, CheckDomainStorage.class, CancelTask.class)
            .and(Writer.HOST, RefreshVolume.class, SwitchToLayer.class, StreamLayer.class, MirrorVolume.class, GrowGuestDisk.class);

    /** Every topic that carries StorageBus records (the dead-letter topic carries others' bytes). */
    public static final List<Topic> ALL = List.of(EVENTS, SUBSCRIBERS, MAINTENANCE, MAINTENANCE_STATE, STORAGE_CHECKS, DOMAIN_STATE,
            VOLUME_STATE, TASK_STATE, BACKUP_STATE, BACKUP_POLICY_STATE, CAPACITY_STATE, SPM_COMMANDS, SPM_JOBS, WATERMARKS, HOST_COMMANDS);

    private TopicMap() {
    }

    /** The topic a concrete topic name is, if StorageBus uses it. */
    public static Optional<Topic> of(String topic) {
        return ALL.stream().filter(t -> t.names(topic)).findFirst();
    }

    /** Every record type some topic carries. */
    public static Set<Class<? extends SpecificRecord>> allTypes() {
        return ALL.stream().flatMap(t -> t.types().stream()).collect(Collectors.toSet());
    }

    @SafeVarargs
    private static Topic topic(String name, Writer writer, Class<? extends SpecificRecord>... types) {
        return new Topic(name, Map.of()).and(writer, types);
    }

}
