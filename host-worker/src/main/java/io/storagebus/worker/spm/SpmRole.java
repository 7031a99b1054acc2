package io.storagebus.worker.spm;

import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.SpmListener;
import io.storagebus.leases.SpmTerm;
import io.storagebus.worker.WorkerConfig;

/** Runs one {@link SpmCommandLoop} per SPM term this host holds, and stops it when the term ends. */
public final class SpmRole implements SpmListener {
    private final WorkerConfig config;
    private final SpmCommandHandler handler;
    private final AtomicReference<SpmCommandLoop> running = new AtomicReference<>();

    public SpmRole(WorkerConfig config, DriverRegistry drivers) {
        this.config = config;
        this.handler = new SpmCommandHandler(config, drivers);
    }

    @Override
    public void termStarted(SpmTerm term) {
        SpmCommandLoop loop = new SpmCommandLoop(config, term, handler);
        SpmCommandLoop previous = running.getAndSet(loop);
        if (previous != null) {
            previous.stop();
        }
        loop.start();
    }

    @Override
    public void termEnded(SpmTerm term) {
        SpmCommandLoop loop = running.getAndSet(null);
        if (loop != null) {
            loop.stop();
        }
    }
}
