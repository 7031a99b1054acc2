package io.storagebus.bench;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import io.storagebus.manager.Manager;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.storagebus.worker.HostWorker;
import io.storagebus.worker.WorkerConfig;

/**
 * ZooKeeper, Kafka, one host worker (the SPM) and a manager in this process, the pool ready:
 * what the benchmarks that drive the REST API run against. Closed in the reverse order.
 */
final class BenchStack implements AutoCloseable {
    private final EmbeddedZooKeeper zk;
    private EmbeddedKafka kafka;
    private HostWorker worker;
    private Manager manager;
    final BenchRest rest;

    private BenchStack(Path dir, String hostId, UnaryOperator<WorkerConfig> worker) throws Exception {
        zk = new EmbeddedZooKeeper(dir.resolve("zk"), 0).start();
        try {
            kafka = new EmbeddedKafka(dir.resolve("kafka"), 0).start();
            this.worker = new HostWorker(worker.apply(WorkerConfig.of(hostId, "default", kafka.bootstrapServers(), zk.connectString()))).start();
            manager = new Manager(ManagerConfig.of(kafka.bootstrapServers(), zk.connectString(), 0)).start();
            manager.defaultPoolReady().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            close();
            throw e;
        }
        rest = new BenchRest(manager.baseUrl());
    }

    String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    /** The stack in {@code dir}, with the worker {@code hostId} configured by {@code worker}. */
    static BenchStack start(Path dir, String hostId, UnaryOperator<WorkerConfig> worker) throws Exception {
        return new BenchStack(dir, hostId, worker);
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
        }
        if (worker != null) {
            worker.close();
        }
        if (kafka != null) {
            kafka.close();
        }
        zk.close();
    }
}
