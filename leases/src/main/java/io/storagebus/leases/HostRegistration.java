package io.storagebus.leases;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.zookeeper.CreateMode;

/**
 * A host's presence in ZooKeeper: the ephemeral node {@code /storagebus/hosts/<hostId>}, kept
 * there through connection loss and recreated after a session expires, gone when the host is.
 */
public final class HostRegistration implements AutoCloseable {
    static final String ROOT = "/storagebus/hosts";

    private enum State { LATENT, STARTED, CLOSED }

    private final PersistentNode node;
    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);

    public HostRegistration(CuratorFramework client, String hostId, String pool) {
        byte[] data = (pool + "\n" + Instant.now().toEpochMilli()).getBytes(StandardCharsets.UTF_8);
        this.node = new PersistentNode(client, CreateMode.EPHEMERAL, false, ROOT + "/" + hostId, data);
    }

    /** Registers, waiting up to the given time for the node (a previous session's node must expire first). */
    public void start(long waitMillis) throws InterruptedException {
        if (!state.compareAndSet(State.LATENT, State.STARTED)) {
            throw new IllegalStateException("host registration already started");
        }
        node.start();
        if (!node.waitForInitialCreate(waitMillis, TimeUnit.MILLISECONDS)) {
            throw new IllegalStateException("host node " + node.getActualPath() + " was not created in " + waitMillis + " ms");
        }
    }

    @Override
    public void close() throws Exception {
        if (state.compareAndSet(State.STARTED, State.CLOSED)) {
            node.close();
        }
    }
}
