package io.storagebus.driver;

import java.io.InputStream;
import java.util.List;

/**
 * Wraps a driver so that every call is checked before the driver sees it: a URI must name a
 * volume of the domain the call is for, and an optional operation needs its declared capability.
 * The checks live here once instead of in every driver.
 */
public final class CheckedDriver extends ForwardingDriver {
    public CheckedDriver(StorageDriver driver) {
        super(driver instanceof CheckedDriver checked ? checked.driver : driver);
    }

    static DriverException unsupported(StorageDriver driver, Capability capability, String operation) {
        return new DriverException(DriverException.Code.UNSUPPORTED,
                "driver '" + driver.name() + "' cannot " + operation + ": it lacks capability " + capability);
    }

    private void own(DomainContext domain, VolumeUri volume) throws DriverException {
        if (!volume.domainId().equals(domain.id())) {
            throw new DriverException(DriverException.Code.INVALID_URI,
                    "volume " + volume + " belongs to domain " + volume.domainId() + ", not to " + domain.id());
        }
    }

    private void need(Capability capability, String operation) throws DriverException {
        if (!driver.capabilities().contains(capability)) {
            throw unsupported(driver, capability, operation);
        }
    }

    @Override
    public VolumeInfo info(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        return driver.info(domain, volume);
    }

    @Override
    public InputStream read(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        return driver.read(domain, volume);
    }

    @Override
    public void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        own(domain, volume);
        driver.write(domain, volume, data, length);
    }

    @Override
    public CopyResult copyTo(DomainContext domain, VolumeUri volume, StorageDriver target, DomainContext targetDomain,
                             VolumeSpec targetSpec, CopyListener listener) throws DriverException {
        own(domain, volume);
        StorageDriver checkedTarget = DriverRegistry.wrap(target);
        return driver.copyTo(domain, volume, checkedTarget, targetDomain, targetSpec, listener);
    }

    @Override
    public VolumeInfo clone(DomainContext domain, VolumeUri source, VolumeSpec clone) throws DriverException {
        own(domain, source);
        return driver.clone(domain, source, clone);
    }

    @Override
    public void delink(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        driver.delink(domain, volume);
    }

    @Override
    public VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        return driver.restore(domain, volume);
    }

    @Override
    public void purge(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        driver.purge(domain, volume);
    }

    @Override
    public void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException {
        own(domain, volume);
        driver.destroy(domain, volume, wipe);
    }

    @Override
    public VolumeInfo resize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        checkResize(domain, volume, newVirtualSize, "resize");
        return driver.resize(domain, volume, newVirtualSize);
    }

    @Override
    public void prepareLiveResize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        checkResize(domain, volume, newVirtualSize, "resize live");
        driver.prepareLiveResize(domain, volume, newVirtualSize);
    }

    private void checkResize(DomainContext domain, VolumeUri volume, long newVirtualSize, String what) throws DriverException {
        own(domain, volume);
        need(Capability.RESIZE, what);
        if (newVirtualSize <= 0) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "a volume's virtual size must be positive, not " + newVirtualSize);
        }
    }

    @Override
    public VolumeInfo extend(DomainContext domain, VolumeUri volume, long newAllocatedSize) throws DriverException {
        own(domain, volume);
        need(Capability.EXTENDABLE, "extend");
        return driver.extend(domain, volume, newAllocatedSize);
    }

    @Override
    public java.util.OptionalLong freeSpace(DomainContext domain) throws DriverException {
        need(Capability.EXTENDABLE, "freeSpace");
        return driver.freeSpace(domain);
    }

    @Override
    public java.util.OptionalLong totalSpace(DomainContext domain) throws DriverException {
        need(Capability.EXTENDABLE, "totalSpace");
        return driver.totalSpace(domain);
    }

    @Override
    public void refresh(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        need(Capability.REFRESH, "refresh");
        driver.refresh(domain, volume);
    }

    @Override
    public String activate(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        need(Capability.ACTIVATE, "activate");
        return driver.activate(domain, volume);
    }

    @Override
    public void admitLease(DomainContext domain, VolumeUri volume, long leaseEpoch) throws DriverException {
        own(domain, volume);
        driver.admitLease(domain, volume, leaseEpoch);
    }

    @Override
    public void deactivate(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        need(Capability.ACTIVATE, "deactivate");
        driver.deactivate(domain, volume);
    }

    @Override
    public VolumeImage export(DomainContext domain, VolumeUri volume, String snapshotId, boolean incremental) throws DriverException {
        own(domain, volume);
        if (snapshotId != null) {
            need(Capability.SNAPSHOT, "export a snapshot");
        }
        return driver.export(domain, volume, snapshotId, incremental);
    }

    @Override
    public SnapshotInfo snapshot(DomainContext domain, VolumeUri volume, String snapshotId, String name, boolean pending)
            throws DriverException {
        own(domain, volume);
        need(Capability.SNAPSHOT, "snapshot");
        if (snapshotId == null || !VolumeUri.ID.matcher(snapshotId).matches()) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "invalid snapshot id '" + snapshotId + "': " + VolumeUri.ID.pattern());
        }
        return driver.snapshot(domain, volume, snapshotId, name, pending);
    }

    @Override
    public String importLayer(DomainContext domain, VolumeUri volume, String snapshotId, String name, InputStream top, long length)
            throws DriverException {
        own(domain, volume);
        need(Capability.SNAPSHOT, "import a snapshot layer");
        if (snapshotId == null || !VolumeUri.ID.matcher(snapshotId).matches()) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "invalid snapshot id '" + snapshotId + "': " + VolumeUri.ID.pattern());
        }
        if (length < 0) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "a layer of " + length + " bytes");
        }
        return driver.importLayer(domain, volume, snapshotId, name, top, length);
    }

    @Override
    public SnapshotInfo commitSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        own(domain, volume);
        need(Capability.SNAPSHOT, "commit a snapshot");
        return driver.commitSnapshot(domain, volume, snapshotId);
    }

    @Override
    public void abortSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        own(domain, volume);
        need(Capability.SNAPSHOT, "abort a snapshot");
        driver.abortSnapshot(domain, volume, snapshotId);
    }

    @Override
    public java.util.Optional<String> parentOf(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        return driver.parentOf(domain, volume);
    }

    @Override
    public List<SnapshotInfo> snapshots(DomainContext domain, VolumeUri volume) throws DriverException {
        own(domain, volume);
        return driver.snapshots(domain, volume);
    }

    @Override
    public MergePlan beginMerge(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        own(domain, volume);
        need(Capability.SNAPSHOT, "merge a snapshot");
        return driver.beginMerge(domain, volume, snapshotId);
    }

    @Override
    public void finishMerge(DomainContext domain, VolumeUri volume, String snapshotId, boolean streamed) throws DriverException {
        own(domain, volume);
        need(Capability.SNAPSHOT, "merge a snapshot");
        driver.finishMerge(domain, volume, snapshotId, streamed);
    }

    @Override
    public void putManifest(DomainContext domain, String backupId, byte[] manifest) throws DriverException {
        need(Capability.BACKUP_TARGET, "store a backup manifest");
        driver.putManifest(domain, backupId, manifest);
    }

    @Override
    public java.util.Optional<byte[]> manifest(DomainContext domain, String backupId) throws DriverException {
        need(Capability.BACKUP_TARGET, "read a backup manifest");
        return driver.manifest(domain, backupId);
    }

    @Override
    public List<String> manifests(DomainContext domain) throws DriverException {
        need(Capability.BACKUP_TARGET, "list backup manifests");
        return driver.manifests(domain);
    }

    @Override
    public void deleteBackup(DomainContext domain, String backupId) throws DriverException {
        need(Capability.BACKUP_TARGET, "delete a backup");
        driver.deleteBackup(domain, backupId);
    }
}
