package io.storagebus.worker.spm;

import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.SpmListener;
import io.storagebus.leases.SpmTerm;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.transfer.TransferServer;

/**
 * Runs the SPM's loops for each term this host holds (the command loop and the extend loop),
 * and stops them when the term ends.
 */
public final class SpmRole implements SpmListener {
    private final WorkerConfig config;
    private final DriverRegistry drivers;
    private final SpmCommandHandler handler;
    private final AtomicReference<Loops> running = new AtomicReference<>();

    /** What one term runs. */
    private record Loops(SpmCommandLoop commands, ExtendLoop extendLoop) {
        void start() {
            commands.start();
            extendLoop.start();
        }

        void stop() {
            extendLoop.stop();
            commands.stop();
        }
    }

    /**
     * @param deletions volume leases the SPM takes for itself while it destroys a volume, so that no
     *        host can prepare the volume meanwhile, and a volume a host holds is not destroyed
     * @param transfers where this host serves the image transfers its SPM jobs open
     */
    public SpmRole(WorkerConfig config, DriverRegistry drivers, VolumeLeases deletions, TransferServer transfers) {
        this.config = config;
        this.drivers = drivers;
        this.handler = new SpmCommandHandler(new SpmDrivers(config, drivers), deletions, transfers);
    }

    @Override
    public void termStarted(SpmTerm term) {
        StorageBusMetrics.get().spmTermStarted(term.pool(), term.epoch());
        Loops loops = new Loops(new SpmCommandLoop(config, term, handler), new ExtendLoop(config, term, drivers));
        Loops previous = running.getAndSet(loops);
        if (previous != null) {
            previous.stop();
        }
        loops.start();
    }

    @Override
    public void termEnded(SpmTerm term) {
        StorageBusMetrics.get().spmTermEnded(term.pool());
        Loops loops = running.getAndSet(null);
        if (loops != null) {
            loops.stop();
        }
    }
}
