package io.storagebus.worker;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.HostRegistration;
import io.storagebus.leases.SpmElection;
import io.storagebus.leases.VolumeLease;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.leases.SpmTerm;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.subscriber.StorageSubscriber;
import io.storagebus.worker.host.HostCommandLoop;
import io.storagebus.worker.spm.SpmRole;
import io.storagebus.worker.transfer.TransferServer;
import io.storagebus.worker.thin.VolumeMonitor;
import io.storagebus.worker.watchdog.WatchdogFeed;
import org.apache.curator.framework.CuratorFramework;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon on a hypervisor host: carries out its host commands, votes on maintenance, joins
 * its pool's SPM election and, while elected, carries out the pool's SPM commands.
 */
public final class HostWorker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HostWorker.class);

    /** How often the host tells the manager it is there to vote; three missed and it is not asked. */
    static final Duration HEARTBEAT_INTERVAL = Duration.ofSeconds(5);

    private final WorkerConfig config;
    private final Lifecycle lifecycle = new Lifecycle("host worker");
    private CuratorFramework zk;
    private HostRegistration registration;
    private SpmRole spmRole;
    private VolumeLeases leases;
    private VolumeLeases spmLeases;
    private HostCommandLoop hostCommands;
    private StorageSubscriber voter;
    private SpmElection election;
    private TransferServer transfers;

    public HostWorker(WorkerConfig config) {
        this.config = config;
    }

    public HostWorker start() throws Exception {
        lifecycle.start();
        ensureTopics();
        zk = config.zooKeeper().connect();
        registration = new HostRegistration(zk, config.hostId(), config.pool());
        registration.start(2L * config.zooKeeper().sessionTimeoutMs());
        DriverRegistry drivers = DriverRegistry.load();
        AtomicReference<HostCommandLoop> loop = new AtomicReference<>();
        Duration guard = WatchdogFeed.guard(Duration.ofMillis(config.zooKeeper().sessionTimeoutMs()), config.watchdogDirectory() != null,
                VolumeMonitor.GUEST_STOP_TIMEOUT);
        leases = new VolumeLeases(zk, config.hostId(), guard, new VolumeLeases.Listener() {
            @Override
            public void leaseLost(VolumeLease lease, String reason) {
                Optional.ofNullable(loop.get()).ifPresent(l -> l.leaseLost(lease, reason));
            }

            @Override
            public void leasesInDoubt(List<VolumeLease> held) {
                Optional.ofNullable(loop.get()).ifPresent(l -> l.leasesInDoubt(held));
            }

            @Override
            public void leasesConfirmed(List<VolumeLease> held) {
                Optional.ofNullable(loop.get()).ifPresent(l -> l.leasesConfirmed(held));
            }
        });
        leases.start();
        hostCommands = new HostCommandLoop(config, drivers, leases);
        loop.set(hostCommands);
        hostCommands.start();
        // The host votes on maintenance like any subscriber; silence (a host that cannot tell) is a veto.
        voter = StorageSubscriber.builder(config.kafka(), config.issuer())
                .description("host worker " + config.hostId() + " of pool " + config.pool() + ": vetoes while guests use volumes of the domain")
                .silence(SilencePolicy.VETO).heartbeatInterval(HEARTBEAT_INTERVAL).voter(hostCommands::maintenanceVote)
                .build();
        voter.start();
        // The SPM's own holder of the leases of volumes it destroys: never this host's, which a prepare here may hold.
        spmLeases = new VolumeLeases(zk, VolumeLeases.spmHolder(config.hostId()), guard, (lease, reason) -> LOG.warn("host {}: the SPM lost the lease of "
                + "volume {} it was deleting: {}", config.hostId(), lease.volumeId(), reason));
        spmLeases.start();
        transfers = new TransferServer(config.transfers()).start();
        spmRole = new SpmRole(config, drivers, spmLeases, transfers);
        election = new SpmElection(zk, config.pool(), config.hostId(), spmRole);
        election.start();
        LOG.info("host worker {} started in pool {}", config.hostId(), config.pool());
        return this;
    }

    public String hostId() {
        return config.hostId();
    }

    /** What the worker's readiness is made of. */
    public record Health(boolean zooKeeper, boolean hostCommands, Optional<SpmTerm> spm) {
        public boolean ready() {
            return zooKeeper && hostCommands;
        }
    }

    /** Ready when connected to ZooKeeper (its leases and election hold) and reading its host topic. */
    public Health health() {
        boolean zkUp = zk != null && zk.getZookeeperClient().isConnected();
        return new Health(zkUp, hostCommands != null && hostCommands.isConsuming(), spmTerm());
    }

    public boolean isStarted() {
        return lifecycle.isStarted();
    }

    /** The SPM term this host holds now, if any. */
    public Optional<SpmTerm> spmTerm() {
        return election == null ? Optional.empty() : election.currentTerm();
    }

    /**
     * The host makes its own topic as itself; the shared and pool topics it may need before any
     * manager ran are made as the pool's SPM, the identity the ACLs let create them.
     */
    private void ensureTopics() {
        List<NewTopic> shared = new ArrayList<>(Topics.shared(config.topicReplication()));
        shared.addAll(Topics.poolTopics(config.pool(), config.topicReplication()));
        try (Admin admin = KafkaClients.admin(config.spmKafka())) {
            Topics.ensure(admin, shared);
        }
        try (Admin admin = KafkaClients.admin(config.kafka())) {
            Topics.ensure(admin, List.of(Topics.hostCommandTopic(config.hostId(), config.topicReplication())));
        }
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        // The election ends the term first, which stops the SPM loop, before ZooKeeper goes.
        if (election != null) {
            election.close();
        }
        if (transfers != null) {
            transfers.close();
        }
        if (voter != null) {
            voter.close();
        }
        if (hostCommands != null) {
            hostCommands.close();
        }
        if (leases != null) {
            leases.close();
        }
        if (spmLeases != null) {
            spmLeases.close();
        }
        if (registration != null) {
            try {
                registration.close();
            } catch (Exception e) {
                LOG.warn("host {}: leaving the host registry: {}", config.hostId(), e.toString());
            }
        }
        if (zk != null) {
            zk.close();
        }
        LOG.info("host worker {} stopped", config.hostId());
    }
}
