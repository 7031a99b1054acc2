package io.storagebus.driver;

import java.io.InputStream;
import java.util.Set;

/**
 * Wraps a driver so that every operation that changes a domain's storage first advances the
 * driver's {@link Fence} under the caller's epoch: a deposed SPM's write is refused with
 * {@link FencedException} before the driver sees it. Which operations those are is said here,
 * once ({@link #MUTATING}), not by each driver; reads, and what a host does to use a volume
 * (activate, refresh, admitLease), pass through. A driver still re-checks its fence where it commits
 * metadata if its storage lets it (a lock around the directory fence's write).
 */
public final class FencedDriver extends ForwardingDriver {
    /** The operations that change a domain's storage, fenced here; every other one only reads or uses it. */
    public static final Set<String> MUTATING = Set.of("create", "write", "clone", "delink", "restore", "purge", "destroy", "extend", "resize", "prepareLiveResize",
            "snapshot", "importLayer", "commitSnapshot", "abortSnapshot", "beginMerge", "finishMerge", "putManifest", "deleteBackup");

    private final Fence fence;

    public FencedDriver(StorageDriver driver) {
        super(driver);
        this.fence = driver.fence();
    }

    private void advance(DomainContext domain) throws DriverException {
        if (domain.epoch().isFenced()) {
            fence.advance(domain);
        }
    }

    @Override
    public VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException {
        advance(domain);
        return driver.create(domain, spec);
    }

    @Override
    public void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        advance(domain);
        driver.write(domain, volume, data, length);
    }

    @Override
    public VolumeInfo clone(DomainContext domain, VolumeUri source, VolumeSpec clone) throws DriverException {
        advance(domain);
        return driver.clone(domain, source, clone);
    }

    @Override
    public void delink(DomainContext domain, VolumeUri volume) throws DriverException {
        advance(domain);
        driver.delink(domain, volume);
    }

    @Override
    public VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException {
        advance(domain);
        return driver.restore(domain, volume);
    }

    @Override
    public void purge(DomainContext domain, VolumeUri volume) throws DriverException {
        advance(domain);
        driver.purge(domain, volume);
    }

    @Override
    public void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException {
        advance(domain);
        driver.destroy(domain, volume, wipe);
    }

    @Override
    public String importLayer(DomainContext domain, VolumeUri volume, String snapshotId, String name, InputStream top, long length)
            throws DriverException {
        advance(domain);
        return driver.importLayer(domain, volume, snapshotId, name, top, length);
    }

    @Override
    public SnapshotInfo commitSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        advance(domain);
        return driver.commitSnapshot(domain, volume, snapshotId);
    }

    @Override
    public void abortSnapshot(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        advance(domain);
        driver.abortSnapshot(domain, volume, snapshotId);
    }

    @Override
    public MergePlan beginMerge(DomainContext domain, VolumeUri volume, String snapshotId) throws DriverException {
        advance(domain);
        return driver.beginMerge(domain, volume, snapshotId);
    }

    @Override
    public void finishMerge(DomainContext domain, VolumeUri volume, String snapshotId, boolean streamed) throws DriverException {
        advance(domain);
        driver.finishMerge(domain, volume, snapshotId, streamed);
    }

    @Override
    public void putManifest(DomainContext domain, String backupId, byte[] manifest) throws DriverException {
        advance(domain);
        driver.putManifest(domain, backupId, manifest);
    }

    @Override
    public void deleteBackup(DomainContext domain, String backupId) throws DriverException {
        advance(domain);
        driver.deleteBackup(domain, backupId);
    }

    @Override
    public VolumeInfo resize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        advance(domain);
        return driver.resize(domain, volume, newVirtualSize);
    }

    @Override
    public void prepareLiveResize(DomainContext domain, VolumeUri volume, long newVirtualSize) throws DriverException {
        advance(domain);
        driver.prepareLiveResize(domain, volume, newVirtualSize);
    }

    @Override
    public VolumeInfo extend(DomainContext domain, VolumeUri volume, long newAllocatedSize) throws DriverException {
        advance(domain);
        return driver.extend(domain, volume, newAllocatedSize);
    }

    @Override
    public SnapshotInfo snapshot(DomainContext domain, VolumeUri volume, String snapshotId, String name, boolean pending)
            throws DriverException {
        advance(domain);
        return driver.snapshot(domain, volume, snapshotId, name, pending);
    }
}
