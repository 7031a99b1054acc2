package io.storagebus.manager.requests;

import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.HostDirectory;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.state.StateView;

/**
 * The manager's application layer: every request a client (or the manager's own backup
 * schedule) can make, checked against the state and published as commands. It knows nothing of
 * HTTP; the REST API is one adapter onto it.
 */
public record Requests(Resources resources, TaskSubmitter submitter, VolumeRequests volumes, SnapshotRequests snapshots,
                       BackupRequests backups, BackupPolicyRequests policies) {

    public static Requests of(StateView view, ActiveRole role, DriverRegistry drivers, LeaseDirectory leases, HostDirectory hosts) {
        Resources resources = new Resources(view, role, drivers, leases);
        TaskSubmitter submitter = new TaskSubmitter(view, role);
        SnapshotRequests snapshots = new SnapshotRequests(resources, submitter);
        BackupRequests backups = new BackupRequests(resources, submitter);
        return new Requests(resources, submitter, new VolumeRequests(resources, submitter, hosts, role), snapshots, backups,
                new BackupPolicyRequests(resources, role, snapshots, backups));
    }
}
