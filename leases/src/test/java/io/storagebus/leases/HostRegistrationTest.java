package io.storagebus.leases;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;

class HostRegistrationTest extends ZooKeeperTestBase {
    /**
     * A worker restarted at once after a crash finds its host node still held by the crashed
     * process's session. Registration returns only once the node is this session's: before, the
     * manager would not know the host although the worker said it was ready.
     */
    @Test
    void startWaitsUntilTheHostNodeIsThisSessionsNotAnEarlierOnes() throws Exception {
        CuratorFramework crashed = client(30_000);
        crashed.blockUntilConnected();
        HostRegistration before = new HostRegistration(crashed, "host-1", "default");
        before.start(5_000);

        CuratorFramework restarted = client(30_000);
        restarted.blockUntilConnected();
        HostRegistration again = new HostRegistration(restarted, "host-1", "default");
        closeables.add(again);
        CompletableFuture<Void> started = CompletableFuture.runAsync(() -> {
            try {
                again.start(20_000);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> !started.isDone());

        crashed.close(); // the earlier session ends; its ephemeral node goes with it
        started.get();
        long owner = restarted.checkExists().forPath(HostRegistration.ROOT + "/host-1").getEphemeralOwner();
        assertEquals(restarted.getZookeeperClient().getZooKeeper().getSessionId(), owner, "the node is the new session's");
    }
}
