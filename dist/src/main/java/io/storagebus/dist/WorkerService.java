package io.storagebus.dist;

import io.storagebus.worker.HostWorker;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.http.WorkerEndpoints;

/** A host worker process: the worker, and its metrics and health endpoints. */
final class WorkerService implements AutoCloseable {
    private final HostWorker worker;
    private final String httpHost;
    private final int httpPort;
    private WorkerEndpoints endpoints;

    WorkerService(WorkerConfig config, String httpHost, int httpPort) {
        this.worker = new HostWorker(config);
        this.httpHost = httpHost;
        this.httpPort = httpPort;
    }

    void start() throws Exception {
        worker.start();
        endpoints = new WorkerEndpoints(worker, httpHost, httpPort).start();
    }

    @Override
    public void close() {
        if (endpoints != null) {
            endpoints.close();
        }
        worker.close();
    }
}
