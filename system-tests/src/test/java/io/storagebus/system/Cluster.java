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
    /** The test's directory, under which its domains keep their files; null when the caller gave the ZooKeeper. */
    private final Path dir;

    Cluster(KafkaFixture kafka, Path dir) {
        this(kafka, new EmbeddedZooKeeper(dir.resolve("zookeeper"), 0).start(), dir);
    }

    /** On a ZooKeeper the caller set up (secured, say); the cluster closes it. */
    Cluster(KafkaFixture kafka, EmbeddedZooKeeper zooKeeper) {
        this(kafka, zooKeeper, null);
    }

    private Cluster(KafkaFixture kafka, EmbeddedZooKeeper zooKeeper, Path dir) {
        this.kafka = kafka;
        this.zooKeeper = zooKeeper;
        this.dir = dir;
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
        if (dir != null) {
            detachLoopDevicesUnder(dir);
        }
    }

    /**
     * A worker that stops leaves the loop devices of the volumes it had prepared attached (a
     * guest may still use them); a test that ends with one prepared, or kills its worker, would
     * leave them behind on the developer's machine, holding their deleted files' space. Lazily
     * detached: a device still open goes when its last user closes it.
     */
    private static void detachLoopDevicesUnder(Path dir) {
        String prefix = dir.toAbsolutePath().normalize() + "/";
        try {
            Process list = new ProcessBuilder("losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE")
                    .redirectErrorStream(true).start();
            String out = new String(list.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            list.waitFor();
            for (String line : out.split("\n")) {
                String[] f = line.trim().split(" ", 2);
                if (f.length == 2 && f[1].startsWith(prefix)) {
                    new ProcessBuilder("losetup", "--detach", f[0]).redirectErrorStream(true)
                            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
                }
            }
        } catch (java.io.IOException e) {
            // No losetup here: no loop devices either.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
