package io.storagebus.manager.ha;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.leases.HostDirectory;
import io.storagebus.manager.requests.RequestException;
import io.storagebus.manager.bus.CommandBus;
import io.storagebus.manager.bus.DeadLetters;
import io.storagebus.manager.maintenance.DrainMoves;
import io.storagebus.manager.maintenance.MaintenanceCoordinator;
import io.storagebus.manager.maintenance.SubscriberRegistry;
import io.storagebus.manager.state.StateView;
import io.storagebus.metrics.StorageBusMetrics;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What only the active manager runs: the command bus, which publishes requests, and the
 * maintenance coordinator, which decides votes. Taking over fences the previous active manager
 * on Kafka first (a shared transactional id), then reads the state topics to their end, so the
 * new manager decides on everything its predecessor committed and nothing it did not.
 */
public final class ActiveRole implements ManagerElection.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(ActiveRole.class);
    /** Shared by all managers: the active one's producer fences its predecessor's. */
    static final String TRANSACTIONAL_ID = "storagebus-manager";

    private record Parts(CommandBus bus, MaintenanceCoordinator maintenance) {
    }

    private final Vertx vertx;
    private final String managerId;
    private final KafkaConnection kafka;
    private final CommandSigner signer;
    private final StateView view;
    private final SubscriberRegistry subscribers;
    private final HostDirectory hosts;
    private final DeadLetters deadLetters;
    private final AtomicReference<Parts> parts = new AtomicReference<>();
    private final List<ManagerElection.Listener> alongside = new CopyOnWriteArrayList<>();
    private volatile BooleanSupplier leading = () -> false;
    private volatile DrainMoves drainMoves = (volume, target, envelope) -> {
        throw new IllegalStateException("no drain planner was given to this manager");
    };
    private volatile ManagerElection election;

    public ActiveRole(Vertx vertx, String managerId, KafkaConnection kafka, StateView view, SubscriberRegistry subscribers,
                      HostDirectory hosts, DeadLetters deadLetters, CommandSigner signer) {
        this.signer = signer;
        this.vertx = vertx;
        this.managerId = managerId;
        this.kafka = kafka;
        this.view = view;
        this.subscribers = subscribers;
        this.hosts = hosts;
        this.deadLetters = deadLetters;
    }

    /** The election this role listens to, for pointing clients at the active manager. */
    public void electedBy(ManagerElection election) {
        this.election = election;
        this.leading = election::leads;
    }

    /** How a drain moves a volume (the volume requests'), for the maintenance coordinator. */
    public void drainWith(DrainMoves moves) {
        this.drainMoves = moves;
    }

    /** Something else only the active manager runs (the backup schedule): started once writes are taken, stopped first. */
    public void runWhileActive(ManagerElection.Listener listener) {
        alongside.add(listener);
    }

    @Override
    public void activate() throws Exception {
        long started = System.nanoTime();
        CommandBus bus = new CommandBus(vertx, kafka, TRANSACTIONAL_ID, () -> leading.getAsBoolean(), signer);
        bus.start();
        MaintenanceCoordinator maintenance = null;
        try {
            view.sync().get(30, TimeUnit.SECONDS);
            maintenance = new MaintenanceCoordinator(vertx, managerId, kafka, view, bus, subscribers, hosts, deadLetters, drainMoves);
            maintenance.start().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            if (maintenance != null) {
                maintenance.close();
            }
            bus.close();
            throw e;
        }
        parts.set(new Parts(bus, maintenance));
        for (ManagerElection.Listener l : alongside) {
            l.activate();
        }
        StorageBusMetrics.get().managerActive(true);
        LOG.info("manager {} took writes after {} ms (fenced its predecessor, read the state to its end)", managerId,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    @Override
    public void deactivate() {
        alongside.forEach(ManagerElection.Listener::deactivate);
        Parts p = parts.getAndSet(null);
        StorageBusMetrics.get().managerActive(false);
        if (p != null) {
            p.maintenance().close();
            p.bus().close();
        }
    }

    public boolean isActive() {
        return parts.get() != null;
    }

    /** The command bus, or NotActive naming the active manager when this one is standby. */
    public CommandBus bus() {
        return parts().bus();
    }

    /** The maintenance coordinator, or NotActive naming the active manager when this one is standby. */
    public MaintenanceCoordinator maintenance() {
        return parts().maintenance();
    }

    /** The coordinator when active: a standby reads maintenance from the state topic instead. */
    public Optional<MaintenanceCoordinator> maintenanceIfActive() {
        return Optional.ofNullable(parts.get()).map(Parts::maintenance);
    }

    private Parts parts() {
        Parts p = parts.get();
        if (p == null) {
            throw notActive();
        }
        return p;
    }

    /** The manager that leads now, this one included; empty during an election. */
    public Optional<ManagerElection.Candidate> activeManager() {
        return election == null ? Optional.empty() : election.leader();
    }

    /** Every manager in the election, the one that leads first; empty without an election. */
    public List<ManagerElection.Candidate> managers() {
        return election == null ? List.of() : election.candidates();
    }

    /** Why this manager does not write, naming the active manager (if one leads) for the client to go to. */
    public RequestException.NotActive notActive() {
        Optional<ManagerElection.Candidate> leader = election == null ? Optional.empty() : election.leader()
                .filter(c -> !c.managerId().equals(managerId) && c.url() != null);
        return leader.map(c -> new RequestException.NotActive("manager " + managerId + " is standby; send writes to the active manager "
                        + c.managerId() + " at " + c.url(), c.managerId(), c.url()))
                .orElseGet(() -> new RequestException.NotActive("no manager is active right now (an election is under way); retry in a few seconds",
                        null, null));
    }
}
