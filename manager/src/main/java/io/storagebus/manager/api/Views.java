package io.storagebus.manager.api;

import java.util.Locale;
import java.util.Map;

import io.storagebus.driver.PropertyDescriptor;
import io.storagebus.driver.PropertyType;
import io.storagebus.driver.StorageDriver;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.DomainCapacity;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TransferInfo;
import io.storagebus.schema.VolumeState;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** How state records look in the REST API: stable JSON, lower-case enums, secrets masked. */
final class Views {
    static final String MASK = "******";

    private Views() {
    }

    static JsonObject domain(DomainState d, StorageDriver driver) {
        JsonObject properties = new JsonObject();
        for (Map.Entry<String, String> e : d.getProperties().entrySet()) {
            properties.put(e.getKey(), isSecret(driver, e.getKey()) ? MASK : e.getValue());
        }
        JsonObject json = new JsonObject()
                .put("id", d.getId())
                .put("name", d.getName())
                .put("pool", d.getEnvelope().getPool())
                .put("driver", d.getDriver())
                .put("properties", properties)
                .put("status", d.getStatus().name())
                .put("createdAt", d.getCreatedAt().toString());
        // What the host that checked the storage resolved it to (never a secret); none for domains stored before hosts checked.
        if (d.getStorageId() != null) {
            json.put("storageId", d.getStorageId());
        }
        if (d.getTrashRetentionSeconds() != null) {
            json.put("trashRetention", d.getTrashRetentionSeconds());
        }
        return json;
    }

    /**
     * A domain's free space, size and time to full as its pool's SPM last forecast them (at
     * {@code forecastAt}, by {@code forecastBy}); {@code secondsToFull} and {@code fullAt} only
     * when there is a demand to forecast from.
     */
    static JsonObject capacity(DomainCapacity c) {
        JsonObject json = new JsonObject()
                .put("freeBytes", c.getFreeBytes())
                .put("demandBytesPerSecond", c.getDemandBytesPerSecond())
                .put("level", c.getLevel().name())
                .put("forecastAt", c.getEnvelope().getTimestamp().toString())
                .put("forecastBy", c.getEnvelope().getIssuer());
        if (c.getTotalBytes() != null) {
            json.put("totalBytes", c.getTotalBytes());
        }
        if (c.getSecondsToFull() >= 0) {
            json.put("secondsToFull", c.getSecondsToFull())
                    .put("fullAt", c.getEnvelope().getTimestamp().plusSeconds(c.getSecondsToFull()).toString());
        }
        return json;
    }

    static JsonObject volume(VolumeState v) {
        JsonObject json = new JsonObject()
                .put("id", v.getId())
                .put("domainId", v.getDomainId())
                .put("name", v.getName())
                .put("virtualSize", v.getVirtualSize())
                .put("format", lower(v.getFormat()))
                .put("allocation", lower(v.getAllocation()))
                .put("status", v.getStatus().name())
                .put("taskId", v.getTaskId())
                .put("createdAt", v.getCreatedAt().toString());
        if (v.getUri() != null) {
            json.put("uri", v.getUri());
        }
        if (v.getErrorCode() != null) {
            json.put("error", new JsonObject().put("code", v.getErrorCode()).put("message", v.getErrorMessage()));
        }
        if (!v.getSnapshots().isEmpty()) {
            json.put("snapshots", new JsonArray(v.getSnapshots().stream().map(Views::snapshot).toList()));
        }
        if (v.getParentVolumeId() != null) {
            json.put("parentVolumeId", v.getParentVolumeId());
        }
        if (v.getTrashedAt() != null) {
            json.put("trashedAt", v.getTrashedAt().toString());
        }
        return json;
    }

    static JsonObject snapshot(SnapshotRef s) {
        JsonObject json = new JsonObject().put("id", s.getSnapshotId()).put("name", s.getName()).put("status", s.getStatus())
                .put("createdAt", s.getCreatedAt().toString());
        if (s.getParentSnapshotId() != null) {
            json.put("parentSnapshotId", s.getParentSnapshotId());
        }
        return json;
    }

    static JsonObject backup(BackupState b) {
        JsonObject json = new JsonObject()
                .put("id", b.getBackupId())
                .put("volumeId", b.getVolumeId())
                .put("volumeName", b.getVolumeName())
                .put("domainId", b.getDomainId())
                .put("targetDomainId", b.getTargetDomainId())
                .put("snapshotId", b.getSnapshotId())
                .put("kind", b.getBaseBackupId() == null ? "FULL" : "INCREMENTAL")
                .put("chain", new JsonArray(new java.util.ArrayList<>(b.getChain())))
                .put("virtualSize", b.getVirtualSize())
                .put("status", b.getStatus().name())
                .put("scheduled", b.getScheduled())
                .put("taskId", b.getTaskId())
                .put("createdAt", b.getCreatedAt().toString());
        if (b.getBaseBackupId() != null) {
            json.put("baseBackupId", b.getBaseBackupId());
        }
        if (b.getBytes() != null) {
            json.put("bytes", b.getBytes());
        }
        if (b.getSha256() != null) {
            json.put("sha256", b.getSha256());
        }
        if (b.getCompletedAt() != null) {
            json.put("completedAt", b.getCompletedAt().toString());
        }
        if (b.getErrorCode() != null) {
            json.put("error", new JsonObject().put("code", b.getErrorCode()).put("message", b.getErrorMessage()));
        }
        return json;
    }

    /** A task's bytes done and to do, and its error, where it has them. */
    static JsonObject progress(TaskState t, JsonObject json) {
        if (t.getDoneBytes() != null) {
            json.put("doneBytes", t.getDoneBytes());
        }
        if (t.getTotalBytes() != null) {
            json.put("totalBytes", t.getTotalBytes());
        }
        if (t.getErrorCode() != null) {
            json.put("error", new JsonObject().put("code", t.getErrorCode()).put("message", t.getErrorMessage()));
        }
        return json;
    }

    static JsonObject task(TaskState t) {
        JsonObject json = new JsonObject()
                .put("id", t.getId())
                .put("type", t.getType())
                .put("status", t.getStatus().name())
                .put("createdAt", t.getCreatedAt().toString())
                .put("updatedAt", t.getEnvelope().getTimestamp().toString());
        if (t.getDomainId() != null) {
            json.put("domainId", t.getDomainId());
        }
        if (t.getVolumeId() != null) {
            json.put("volumeId", t.getVolumeId());
        }
        progress(t, json);
        if (t.getMessage() != null) {
            json.put("message", t.getMessage());
        }
        if (t.getTransfer() != null) {
            json.put("transfer", transfer(t.getTransfer()));
        }
        return json;
    }

    /** An image transfer's side of its task, without its URL (which carries its ticket; {@code GET /api/v1/transfers/{id}} shows it to operators). */
    static JsonObject transfer(TransferInfo t) {
        JsonObject json = new JsonObject().put("direction", t.getDirection().name()).put("format", t.getFormat().name())
                .put("inactivityTimeout", t.getInactivityTimeoutSeconds());
        if (t.getSizeBytes() != null) {
            json.put("sizeBytes", t.getSizeBytes());
        }
        if (t.getSha256() != null) {
            json.put("sha256", t.getSha256());
        }
        return json;
    }

    private static boolean isSecret(StorageDriver driver, String property) {
        if (driver == null) {
            return true;
        }
        return driver.properties().stream().anyMatch(p -> p.name().equals(property) && p.secret());
    }

    static JsonObject driver(StorageDriver driver) {
        return new JsonObject()
                .put("name", driver.name())
                .put("capabilities", driver.capabilities().stream().map(Enum::name).sorted().toList())
                .put("properties", driver.properties().stream().map(Views::descriptor).toList());
    }

    private static JsonObject descriptor(PropertyDescriptor p) {
        JsonObject json = new JsonObject().put("name", p.name()).put("type", p.type().name())
                .put("required", p.required()).put("description", p.description());
        if (p.defaultValue() != null) {
            json.put("default", p.secret() ? MASK : p.defaultValue());
        }
        if (!p.allowedValues().isEmpty()) {
            json.put(p.type() == PropertyType.URI ? "schemes" : "values", p.allowedValues());
        }
        if (p.min() != null) {
            json.put("min", p.min());
        }
        if (p.max() != null) {
            json.put("max", p.max());
        }
        if (p.pattern() != null) {
            json.put("pattern", p.pattern());
        }
        return json;
    }

    private static String lower(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
