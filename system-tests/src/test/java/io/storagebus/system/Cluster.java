package io.storagebus.system;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

import io.storagebus.manager.Manager;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.storagebus.worker.HostWorker;
import io.storagebus.worker.WorkerConfig;

/** ZooKeeper, a Kafka fixture, a manager and host workers for one test class. */
final class Cluster implements AutoCloseable {
    static final String POOL = "default";

    final KafkaFixture kafka;
    final EmbeddedZooKeeper zooKeeper;
    final List<HostWorker> workers = new ArrayList<>();
    Manager manager;

    Cluster(KafkaFixture kafka, Path dir) {
        this(kafka, new EmbeddedZooKeeper(dir.resolve("zookeeper"), 0).start());
    }

    /** On a ZooKeeper the caller set up (secured, say); the cluster closes it. */
    Cluster(KafkaFixture kafka, EmbeddedZooKeeper zooKeeper) {
        this.kafka = kafka;
        this.zooKeeper = zooKeeper;
    }

    HostWorker startWorker(String hostId) throws Exception {
        return startWorker(hostId, c -> c);
    }

    HostWorker startWorker(String hostId, UnaryOperator<WorkerConfig> tune) throws Exception {
        HostWorker worker = new HostWorker(tune.apply(WorkerConfig.of(hostId, POOL, kafka.bootstrapServers(), zooKeeper.connectString()))).start();
        workers.add(worker);
        return worker;
    }

    Manager startManager() throws Exception {
        manager = startManager("manager-1");
        return manager;
    }

    /** Another manager of the same installation: active if none is, standby otherwise. The caller closes it. */
    Manager startManager(String managerId) throws Exception {
        return startManager(managerId, c -> c);
    }

    /** A manager configured further by {@code tune} (tokens, TLS). The caller closes it. */
    Manager startManager(String managerId, UnaryOperator<ManagerConfig> tune) throws Exception {
        return new Manager(tune.apply(ManagerConfig.of(kafka.bootstrapServers(), zooKeeper.connectString(), 0).withId(managerId))).start();
    }

    Optional<HostWorker> spm() {
        return workers.stream().filter(w -> w.spmTerm().isPresent()).findFirst();
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
        }
        workers.forEach(HostWorker::close);
        zooKeeper.close();
        kafka.close();
    }
}
