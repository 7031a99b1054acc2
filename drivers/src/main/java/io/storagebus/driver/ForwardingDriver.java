package io.storagebus.driver;

import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

/**
 * A driver that passes every call on to another: the base of the decorators around drivers
 * ({@link CheckedDriver}, {@link FencedDriver}), which override only what they add. It overrides
 * every operation, so that a default method of {@link StorageDriver} never runs in place of the
 * wrapped driver's own.
 */
public abstract class ForwardingDriver implements StorageDriver {
    protected final StorageDriver driver;

    protected ForwardingDriver(StorageDriver driver) {
        this.driver = driver;
    }

    @Override
    public String name() {
        return driver.name();
    }

    @Override
    public Fence fence() {
        return driver.fence();
    }

    @Override
    public Set<Capability> capabilities() {
        return driver.capabilities();
    }

    @Override
    public List<PropertyDescriptor> properties() {
        return driver.properties();
    }

    @Override
    public List<PropertyViolation> validate(Map<String, String> properties) {
        return driver.validate(properties);
    }

    @Override
    public String storageId(Map<String, String> properties) {
        return driver.storageId(properties);
    }

    @Override
    public VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException {
        return driver.create(domain, spec);
    }

    @Override
    public VolumeInfo info(DomainContext domain, VolumeUri volume) throws DriverException {
        return driver.info(domain, volume);
    }

    @Override
    public InputStream read(DomainContext domain, VolumeUri volume) throws DriverException {
        return driver.read(domain, volume);
    }

    @Override
    public void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        driver.write(domain, volume, data, length);
    }

    @Override
    public CopyResult copyTo(DomainContext domain, VolumeUri volume, StorageDriver target, DomainContext targetDomain,
                             VolumeSpec targetSpec, CopyListener listener) throws DriverException {
        return driver.copyTo(domain, volume, target, targetDomain, targetSpec, listener);
    }

    @Override
    public VolumeInfo clone(DomainContext domain, VolumeUri source, VolumeSpec clone) throws DriverException {
        return driver.clone(domain, source, clone);
    }

    @Override
    public void delink(DomainContext domain, VolumeUri volume) throws DriverException {
        driver.delink(domain, volume);
    }

    @Override
    public VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException {
        return driver.restore(domain, volume);
    }

    @Override
    public void purge(DomainContext domain, VolumeUri volume) throws DriverException {
        driver.purge(domain, volume);
    }

    @Override
    public void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException {
        driver.destroy(domain, volume, wipe);
    }

    @Override
    public List<VolumeInfo> list(DomainContext domain) throws DriverException {
        return driver.list(domain);
    }

    @Override
    public List<VolumeInfo> listDelinked(DomainContext domain) throws DriverException {
        return driver.listDelinked(domain);
    }

    @Override
    public VolumeImage export(DomainContext domain, VolumeUri volume, String snapshotId, boolean incremental) throws DriverException {
        return driver.export(domain, volume, snapshotId, incremental);
    }

    @Override
    public SnapshotInfo snapshot(DomainContext domain, VolumeUri volume, String snapshotId, String name, boolean pending)
            throws DriverException {
        return driver.snapshot(domain, volume, snapshotId, name, pending);
    }

    @Override
    public String importLayer(DomainContext domain, VolumeUri volume, String snapshotId, String name, InputStream top, long length)
            throws DriverException {
        return driver.importLayer(domain, volume, snapshotId, name, top, length);
    }

    @Override
    public SnapshotInfo commitSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        return driver.commitSnapshot(domain, volume, snapshotId);
    }

    @Override
    public void abortSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        driver.abortSnapshot(domain, volume, snapshotId);
    }

    @Override
    public Optional<String> parentOf(DomainContext domain, VolumeUri volume) throws DriverException {
        return driver.parentOf(domain, volume);
    }

    @Override
    public List<SnapshotInfo> snapshots(DomainContext domain, VolumeUri volume) throws DriverException {
        return driver.snapshots(domain, volume);
    }

    @Override
    public MergePlan beginMerge(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        return driver.beginMerge(domain, volume, snapshotId);
    }

    @Override
    public void finishMerge(DomainContext domain, VolumeUri volume, String snapshotId, boolean streamed) throws DriverException {
        driver.finishMerge(domain, volume, snapshotId, streamed);
    }

    @Override
    public void putManifest(DomainContext domain, String backupId, byte[] manifest) throws DriverException {
        driver.putManifest(domain, backupId, manifest);
    }

    @Override
    public Optional<byte[]> manifest(DomainContext domain, String backupId) throws DriverException {
        return driver.manifest(domain, backupId);
    }

    @Override
    public List<String> manifests(DomainContext domain) throws DriverException {
        return driver.manifests(domain);
    }

    @Override
    public void deleteBackup(DomainContext domain, String backupId) throws DriverException {
        driver.deleteBackup(domain, backupId);
    }

    @Override
    public VolumeInfo resize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        return driver.resize(domain, volume, newVirtualSize);
    }

    @Override
    public void prepareLiveResize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        driver.prepareLiveResize(domain, volume, newVirtualSize);
    }

    @Override
    public VolumeInfo extend(DomainContext domain, VolumeUri volume, long newAllocatedSize) throws DriverException {
        return driver.extend(domain, volume, newAllocatedSize);
    }

    @Override
    public OptionalLong freeSpace(DomainContext domain) throws DriverException {
        return driver.freeSpace(domain);
    }

    @Override
    public OptionalLong totalSpace(DomainContext domain) throws DriverException {
        return driver.totalSpace(domain);
    }

    @Override
    public void refresh(DomainContext domain, VolumeUri volume) throws DriverException {
        driver.refresh(domain, volume);
    }

    @Override
    public String activate(DomainContext domain, VolumeUri volume) throws DriverException {
        return driver.activate(domain, volume);
    }

    @Override
    public void admitLease(DomainContext domain, VolumeUri volume, long leaseEpoch) throws DriverException {
        driver.admitLease(domain, volume, leaseEpoch);
    }

    @Override
    public void deactivate(DomainContext domain, VolumeUri volume) throws DriverException {
        driver.deactivate(domain, volume);
    }
}
