package io.storagebus.bus;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.schema.BackupCompleted;
import io.storagebus.schema.BackupDeleted;
import io.storagebus.schema.BackupProgress;
import io.storagebus.schema.BackupPolicy;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.BackupVolume;
import io.storagebus.schema.CancelTask;
import io.storagebus.schema.CapacityAlert;
import io.storagebus.schema.CloneVolume;
import io.storagebus.schema.CommandFailed;
import io.storagebus.schema.CopyVolume;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DeleteBackup;
import io.storagebus.schema.DeleteSnapshot;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.CheckDomainStorage;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.DomainActivated;
import io.storagebus.schema.DomainCapacity;
import io.storagebus.schema.DomainDisconnected;
import io.storagebus.schema.DomainStorageChecked;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.GuestPaused;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.GuestStopped;
import io.storagebus.schema.GrowGuestDisk;
import io.storagebus.schema.GuestDiskGrown;
import io.storagebus.schema.LayerChangeDone;
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
import io.storagebus.schema.SnapshotVolume;
import io.storagebus.schema.StreamLayer;
import io.storagebus.schema.SubscriberHeartbeat;
import io.storagebus.schema.SwitchToLayer;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TeardownVolume;
import io.storagebus.schema.UnmonitorVolume;
import io.storagebus.schema.VolumeCopied;
import io.storagebus.schema.VolumeCopyProgress;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeDeleted;
import io.storagebus.schema.VolumeResized;
import io.storagebus.schema.TransferImage;
import io.storagebus.schema.ImageTransferred;
import io.storagebus.schema.UntrashVolume;
import io.storagebus.schema.VolumeTrashed;
import io.storagebus.schema.VolumeUntrashed;
import io.storagebus.schema.DomainDetached;
import io.storagebus.schema.VolumeExtendFailed;
import io.storagebus.schema.VolumeExtended;
import io.storagebus.schema.MaintenanceDraining;
import io.storagebus.schema.MoveVolume;
import io.storagebus.schema.MirrorDone;
import io.storagebus.schema.MirrorVolume;
import io.storagebus.schema.VolumeLeaseLost;
import io.storagebus.schema.VolumeMoved;
import io.storagebus.schema.VolumeLeaseTakenOver;
import io.storagebus.schema.VolumePrepared;
import io.storagebus.schema.VolumeRestored;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeTornDown;
import io.storagebus.schema.VolumeWatermark;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecord;

/**
 * Every top-level record StorageBus puts on a topic, and the released versions of its schema.
 *
 * <p>Released versions live in {@code /io/storagebus/schema/history/<Name>/v<N>.avsc}. A reader
 * must decode every released version; the compatibility test enforces that the newest released
 * version equals the current schema and that each version can read the ones before it.
 */
public final class MessageTypes {
    public static final List<Class<? extends SpecificRecord>> ALL = List.of(
            CreateVolume.class,
            CopyVolume.class,
            MoveVolume.class,
            CancelTask.class,
            PrepareVolume.class,
            TeardownVolume.class,
            MonitorVolume.class,
            UnmonitorVolume.class,
            VolumeWatermark.class,
            RefreshVolume.class,
            VolumeCreated.class,
            VolumePrepared.class,
            VolumeTornDown.class,
            VolumeLeaseLost.class, VolumeLeaseTakenOver.class,
            VolumeCopyProgress.class,
            VolumeCopied.class,
            VolumeMoved.class,
            CommandFailed.class,
            VolumeExtended.class,
            VolumeExtendFailed.class,
            CapacityAlert.class,
            GuestPaused.class,
            GuestResumed.class,
            GuestStopped.class,
            SubscriberHeartbeat.class,
            MaintenanceRequested.class,
            MaintenanceVote.class,
            MaintenanceAborted.class,
            MaintenanceDraining.class,
            MaintenanceStarted.class,
            MaintenanceCompleted.class,
            MaintenanceCancelled.class,
            MaintenanceVoteCounted.class,
            DomainActivated.class,
            DisconnectDomain.class,
            DomainDisconnected.class,
            MaintenanceState.class,
            DomainState.class,
            VolumeState.class,
            TaskState.class,
            SnapshotVolume.class,
            DeleteSnapshot.class,
            LayerChangeDone.class,
            SwitchToLayer.class,
            StreamLayer.class,
            MirrorVolume.class,
            MirrorDone.class,
            DeleteVolume.class,
            CloneVolume.class,
            BackupVolume.class,
            RestoreBackup.class,
            DeleteBackup.class,
            SnapshotCreated.class,
            SnapshotDeleted.class,
            VolumeDeleted.class,
            ResizeVolume.class,
            VolumeResized.class,
            GrowGuestDisk.class,
            GuestDiskGrown.class,
            UntrashVolume.class,
            VolumeTrashed.class,
            VolumeUntrashed.class,
            TransferImage.class,
            ImageTransferred.class,
            DomainDetached.class,
            BackupProgress.class,
            BackupCompleted.class,
            BackupDeleted.class,
            VolumeRestored.class,
            BackupState.class,
            BackupPolicy.class,
            CheckDomainStorage.class,
            DomainStorageChecked.class,
            DomainCapacity.class);

    private MessageTypes() {
    }

    public static Schema schemaOf(Class<? extends SpecificRecord> type) {
        try {
            return (Schema) type.getField("SCHEMA$").get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException(type + " is not a generated Avro class", e);
        }
    }

    /** Released schemas of a type, oldest first. */
    public static List<Schema> history(Schema current) {
        List<Schema> versions = new ArrayList<>();
        for (int v = 1; ; v++) {
            String resource = "/io/storagebus/schema/history/" + current.getName() + "/v" + v + ".avsc";
            try (InputStream in = MessageTypes.class.getResourceAsStream(resource)) {
                if (in == null) {
                    return versions;
                }
                versions.add(new Schema.Parser().parse(in));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + resource, e);
            }
        }
    }
}
