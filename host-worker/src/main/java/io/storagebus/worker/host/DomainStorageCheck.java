package io.storagebus.worker.host;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.PropertyValidator;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.Capability;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.BackupState;
import io.storagebus.schema.BackupStatus;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.storagebus.schema.CheckDomainStorage;
import io.storagebus.schema.DomainStorageChecked;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.schema.StorageViolation;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A host's answer to {@link CheckDomainStorage}: the storage as this host sees it. The manager
 * usually cannot see a domain's storage (a directory mounted on the hosts, a SAN's VG), so the
 * driver's validation, the storage id and the listing of volumes to import run here, on a host of
 * the pool, and the manager stores the domain only on a yes. Read-only: nothing is changed.
 */
final class DomainStorageCheck {
    private static final Logger LOG = LoggerFactory.getLogger(DomainStorageCheck.class);

    private DomainStorageCheck() {
    }

    static ProducerRecord<String, byte[]> answer(CheckDomainStorage check, String hostId, String issuer, DriverRegistry drivers) {
        Envelope envelope = Envelopes.causedBy(check.getEnvelope(), issuer, null);
        DomainStorageChecked.Builder answer = DomainStorageChecked.newBuilder().setEnvelope(envelope).setCheckId(check.getCheckId())
                .setDomainId(check.getDomain().getId()).setHostId(hostId);
        StorageDriver driver = drivers.find(check.getDomain().getDriver()).orElse(null);
        if (driver == null) {
            answer.setError("host " + hostId + " has no driver '" + check.getDomain().getDriver() + "'");
        } else {
            PropertyValidator.Result validated = PropertyValidator.validate(driver, check.getDomain().getProperties());
            if (!validated.valid()) {
                answer.setViolations(validated.violations().stream().map(v -> StorageViolation.newBuilder()
                        .setProperty(v.property()).setCode(v.code()).setMessage(v.message()).build()).toList());
            } else {
                answer.setStorageId(driver.storageId(validated.properties()));
                if (check.getListVolumes()) {
                    try {
                        DomainContext domain = new DomainContext(check.getDomain().getId(), validated.properties());
                        List<BackupState> backups = driver.capabilities().contains(Capability.BACKUP_TARGET)
                                ? backupsOn(driver, domain, envelope, check.getCheckId(), hostId) : List.of();
                        java.util.Set<String> backupData = new java.util.HashSet<>();
                        backups.forEach(b -> backupData.add(b.getBackupId()));
                        answer.setBackups(backups);
                        answer.setVolumes(volumesOn(driver, domain, envelope, check.getCheckId()).stream()
                                .filter(v -> !backupData.contains(v.getId())).toList());
                    } catch (DriverException e) {
                        answer.setStorageId(null).setError("cannot list the volumes on the storage: " + e.getMessage());
                    }
                }
            }
        }
        DomainStorageChecked checked = answer.build();
        LOG.info("host {}: storage of domain {} ({} driver) checked: {}", hostId, check.getDomain().getId(), check.getDomain().getDriver(),
                checked.getStorageId() != null ? "usable, " + checked.getVolumes().size() + " volumes listed"
                        : checked.getError() != null ? checked.getError() : checked.getViolations().size() + " problems");
        return Records.of(Topics.STORAGE_CHECKS, check.getCheckId(), checked);
    }

    /**
     * The backups whose manifests are on a backup domain's storage, as the state would record
     * them: the backup catalogue comes back with the storage. A manifest is a stranger's input:
     * one that cannot be read or lacks a field is left out, and said so in the log.
     */
    private static List<BackupState> backupsOn(StorageDriver driver, DomainContext domain, Envelope envelope, String checkId, String hostId)
            throws DriverException {
        List<BackupState> found = new ArrayList<>();
        for (String backupId : driver.manifests(domain)) {
            byte[] bytes = driver.manifest(domain, backupId).orElse(null);
            if (bytes == null) {
                continue;
            }
            try {
                JsonObject m = new JsonObject(new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
                if (!backupId.equals(m.getString("backupId"))) {
                    throw new IllegalArgumentException("it names backup " + m.getString("backupId"));
                }
                found.add(BackupState.newBuilder().setEnvelope(envelope).setBackupId(backupId).setTaskId(checkId)
                        .setVolumeId(required(m, "volumeId")).setVolumeName(required(m, "volumeName")).setDomainId(required(m, "sourceDomainId"))
                        .setTargetDomainId(domain.id()).setSnapshotId(required(m, "snapshotId"))
                        .setVirtualSize(m.getLong("virtualSize")).setBaseBackupId(m.getString("baseBackupId"))
                        .setChain(m.getJsonArray("chain", new JsonArray()).stream().map(String::valueOf).toList())
                        .setStatus(BackupStatus.COMPLETE).setBytes(m.getLong("bytes")).setSha256(m.getString("sha256"))
                        .setCreatedAt(Instant.parse(required(m, "requestedAt"))).setCompletedAt(Instant.parse(required(m, "completedAt")))
                        .build());
            } catch (RuntimeException e) {
                LOG.warn("host {}: the manifest of backup {} in domain {} is left out: {}", hostId, backupId, domain.id(), e.toString());
            }
        }
        return found;
    }

    private static String required(JsonObject manifest, String field) {
        String value = manifest.getString(field);
        if (value == null) {
            throw new IllegalArgumentException("it has no " + field);
        }
        return value;
    }

    /**
     * The volumes on the storage as the state would record them; the storage's own metadata
     * brings back snapshot chains and templates. Delinked ones are in the trash.
     */
    private static List<VolumeState> volumesOn(StorageDriver driver, DomainContext domain, Envelope envelope, String checkId)
            throws DriverException {
        List<VolumeState> found = new ArrayList<>();
        for (VolumeInfo v : driver.list(domain)) {
            found.add(VolumeState.newBuilder()
                    .setEnvelope(envelope).setId(v.volumeId()).setDomainId(domain.id()).setName(v.name() == null ? v.volumeId() : v.name())
                    .setVirtualSize(v.virtualSize()).setFormat(VolumeFormat.valueOf(v.format().name()))
                    .setAllocation(Allocation.valueOf(v.allocation().name())).setStatus(VolumeStatus.READY).setUri(v.location())
                    .setTaskId(checkId).setCreatedAt(envelope.getTimestamp())
                    .setSnapshots(driver.snapshots(domain, v.uri()).stream().map(s -> SnapshotRef.newBuilder()
                            .setSnapshotId(s.snapshotId()).setName(s.name()).setStatus(s.status().name())
                            .setParentSnapshotId(s.parentSnapshotId()).setCreatedAt(Instant.ofEpochMilli(s.createdAt())).build()).toList())
                    .setParentVolumeId(driver.parentOf(domain, v.uri()).orElse(null))
                    .build());
        }
        // Delinked volumes come back in the trash: restorable as before, purged after the retention.
        for (VolumeInfo v : driver.listDelinked(domain)) {
            found.add(VolumeState.newBuilder()
                    .setEnvelope(envelope).setId(v.volumeId()).setDomainId(domain.id()).setName(v.name() == null ? v.volumeId() : v.name())
                    .setVirtualSize(v.virtualSize()).setFormat(VolumeFormat.valueOf(v.format().name()))
                    .setAllocation(Allocation.valueOf(v.allocation().name())).setStatus(VolumeStatus.TRASHED).setUri(v.location())
                    .setTaskId(checkId).setCreatedAt(envelope.getTimestamp()).setTrashedAt(envelope.getTimestamp())
                    .build());
        }
        return found;
    }
}
