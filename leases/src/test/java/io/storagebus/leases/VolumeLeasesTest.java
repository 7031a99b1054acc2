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
    void theHolderDescribesWhereTheVolumeIsUsableAndItsAllocationForEveryReader() throws Exception {
        VolumeLeases a = leases("host-a", (l, r) -> { });
        VolumeLeases b = leases("host-b", (l, r) -> { });
        LeaseDirectory directory = new LeaseDirectory(client());
        closeables.add(directory);
        directory.start();
        a.acquire("vol-1");

        a.describe("vol-1", l -> l.usableAt("/run/storagebus/blockfile/d1/vol-1", 1 << 30));
        java.time.Instant extendedAt = java.time.Instant.ofEpochMilli(1_700_000_000_000L);
        a.describe("vol-1", l -> l.extendedTo(3L << 30, extendedAt));
        b.describe("vol-1", l -> l.usableAt("/elsewhere", 1));

        await().atMost(Duration.ofSeconds(10)).until(() -> directory.leaseOf("vol-1").map(VolumeLease::lastExtendedAt).isPresent());
        VolumeLease seen = directory.leaseOf("vol-1").orElseThrow();
        assertEquals("/run/storagebus/blockfile/d1/vol-1", seen.path(), "only the holder writes the description");
        assertEquals(3L << 30, seen.allocatedBytes());
        assertEquals(extendedAt, seen.lastExtendedAt());
        assertEquals(seen, a.holderOf("vol-1"));
        assertEquals(a.acquire("vol-1").epoch(), seen.epoch(), "describing it keeps the lease");
    }

    @Test
    void aLeaseNodeIsInputFromAStranger() {
        assertThrows(IllegalArgumentException.class, () -> VolumeLease.fromBytes("v", "host-a\nnot-a-number\n1".getBytes()));
        assertThrows(IllegalArgumentException.class, () -> VolumeLease.fromBytes("v", "host-a".getBytes()));
        VolumeLease lease = VolumeLease.fromBytes("v", "host-a\n7\n1000\nallocated=lots\npath=/dev/x\nfuture=1".getBytes());
        assertEquals(7, lease.epoch(), "a description that cannot be read does not lose the lease");
        assertEquals(-1, lease.allocatedBytes());
        assertEquals("/dev/x", lease.path());
        assertThrows(IllegalArgumentException.class, () -> lease.usableAt("/a\nextended=1", 1));
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
