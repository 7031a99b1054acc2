package io.storagebus.leases;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;

/** Volume leases against a real ZooKeeper server. */
class VolumeLeasesTest extends ZooKeeperTestBase {
    private CuratorFramework client() {
        return client(3000);
    }

    private VolumeLeases leases(String host, VolumeLeases.Listener listener) {
        VolumeLeases leases = new VolumeLeases(client(), host, listener);
        closeables.add(leases);
        leases.start();
        return leases;
    }

    @Test
    void aVolumeHasOneHolderAndEveryNewLeaseAHigherEpoch() throws Exception {
        VolumeLeases a = leases("host-a", (l, r) -> { });
        VolumeLeases b = leases("host-b", (l, r) -> { });
        VolumeLease first = a.acquire("vol-1");
        assertEquals(first, a.acquire("vol-1"), "acquire is idempotent for the holder");
        LeaseHeldException refused = assertThrows(LeaseHeldException.class, () -> b.acquire("vol-1"));
        assertEquals("host-a", refused.holder().hostId());

        a.release("vol-1");
        VolumeLease second = b.acquire("vol-1");
        assertTrue(second.epoch() > first.epoch(), "lease epochs grow: " + first + " then " + second);
        assertEquals("host-b", a.holderOf("vol-1").hostId());
    }

    @Test
    void losingTheSessionLosesTheLeasesAndTellsTheHost() throws Exception {
        List<String> lost = new CopyOnWriteArrayList<>();
        VolumeLeases a = leases("host-a", (lease, reason) -> lost.add(lease.volumeId()));
        a.acquire("vol-1");
        a.acquire("vol-2");

        zk.stop();
        // Curator declares the session lost once the session timeout has passed without a server.
        await().atMost(Duration.ofSeconds(20)).until(() -> lost.size() == 2);
        assertTrue(a.held().isEmpty());
        zk.restart();

        VolumeLeases b = leases("host-b", (l, r) -> { });
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> b.acquire("vol-1") != null);
        assertEquals("host-b", b.holderOf("vol-1").hostId());
    }
}
