package io.storagebus.manager.requests;

import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.HostDirectory;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.leases.SpmDirectory;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.manager.bus.PoolTopics;
import io.storagebus.manager.bus.StorageChecks;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.state.StateView;
import io.vertx.core.Vertx;

/**
 * The manager's application layer: every request a client (or the manager's own backup
 * schedule) can make, checked against the state and published as commands. It knows nothing of
 * HTTP; the REST API is one adapter onto it.
 */
public record Requests(Resources resources, DomainRequests domains, VolumeRequests volumes, SnapshotRequests snapshots,
                       BackupRequests backups, BackupPolicyRequests policies, TransferRequests transfers) {
    /** What the requests act with: the state, this manager's role, the drivers' descriptors and the hosts' registries in ZooKeeper. */
    public record Parts(Vertx vertx, ManagerConfig config, StateView view, ActiveRole role, DriverRegistry drivers, LeaseDirectory leases,
                        HostDirectory hosts, SpmDirectory spms, StorageChecks storageChecks, PoolTopics poolTopics) {
    }

    public static Requests of(Parts p) {
        Resources resources = new Resources(p.view(), p.role(), p.drivers(), p.leases());
        TaskSubmitter submitter = new TaskSubmitter(p.view(), p.role());
        SnapshotRequests snapshots = new SnapshotRequests(resources, submitter);
        BackupRequests backups = new BackupRequests(resources, submitter);
        DomainRequests domains = new DomainRequests(p.vertx(), resources, submitter, p.role(), p.drivers(), p.hosts(), p.spms(),
                p.storageChecks(), p.poolTopics(), new DomainStorage(p.view(), p.drivers(), p.config().reservedDirectories()),
                p.config().storageCheckTimeout());
        return new Requests(resources, domains, new VolumeRequests(resources, submitter, p.hosts(), p.role()), snapshots, backups,
                new BackupPolicyRequests(resources, p.role(), snapshots, backups), new TransferRequests(resources, submitter));
    }
}
