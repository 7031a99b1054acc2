package io.storagebus.leases;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;

/** Volume leases against a real ZooKeeper server. */
class VolumeLeasesTest extends ZooKeeperTestBase {
    private static final Duration GUARD = Duration.ofMillis(1500);

    private CuratorFramework client() {
        return client(3000);
    }

    private VolumeLeases leases(String host, VolumeLeases.Listener listener) {
        VolumeLeases leases = new VolumeLeases(client(), host, GUARD, listener);
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

    @Test
    void aLeaseGivenBackIsUsableAtOnceAndOneNotGivenBackAfterItsHoldersGuard() throws Exception {
        VolumeLeases a = leases("host-a", (l, r) -> { });
        a.acquire("vol-1");
        a.release("vol-1");
        CuratorFramework bClient = client(3000);
        VolumeLeases b = new VolumeLeases(bClient, "host-b", Duration.ofMillis(700), (l, r) -> { });
        b.start();
        VolumeLease bLease = b.acquire("vol-1");
        assertTrue(b.takeover("vol-1").isEmpty(), "host-a gave it back: no wait");

        bClient.close(); // host-b's session ends without a teardown: its node goes, the lease was never given back
        VolumeLeases c = leases("host-c", (l, r) -> { });
        VolumeLease cLease = c.acquire("vol-1");
        LeaseTakeover takeover = c.takeover("vol-1").orElseThrow();
        assertEquals("host-b", takeover.previousHostId());
        assertEquals(bLease.epoch(), takeover.previousEpoch());
        assertEquals(cLease.epoch(), takeover.epoch());
        assertEquals(Duration.ofMillis(700), takeover.previousGuard(), "host-b's own guard, not host-c's");
        assertEquals(Duration.ofMillis(700).plus(VolumeLeases.TAKEOVER_MARGIN), takeover.waitTime());
        assertEquals(cLease.since().plus(takeover.waitTime()), takeover.usableAt(), "counted from when the lease was taken");
        assertTrue(takeover.describe().contains("host-b"), takeover.describe());
        assertEquals(takeover, c.takeover("vol-1").orElseThrow(), "a prepare delivered again waits for the same moment");
        assertEquals(Duration.ZERO, takeover.remaining(takeover.usableAt().plusMillis(1)));

        await().atMost(Duration.ofSeconds(10)).until(() -> takeover.remaining(java.time.Instant.now()).isZero());
        c.release("vol-1");
        VolumeLeases d = leases("host-d", (l, r) -> { });
        d.acquire("vol-1");
        assertTrue(d.takeover("vol-1").isEmpty(), "host-c gave it back after its wait");
    }

    @Test
    void aLeaseGivenBackBeforeItsTakeoverWaitIsOverPassesTheWaitOn() throws Exception {
        CuratorFramework aClient = client(3000);
        VolumeLeases a = new VolumeLeases(aClient, "host-a", Duration.ofMillis(4000), (l, r) -> { });
        a.start();
        a.acquire("vol-2");
        aClient.close(); // host-a's guests may write for 4 s after it was last heard

        VolumeLeases b = leases("host-b", (l, r) -> { });
        b.acquire("vol-2");
        assertEquals(Duration.ofMillis(5000), b.takeover("vol-2").orElseThrow().waitTime());
        b.release("vol-2"); // torn down at once, before host-a's guard has passed

        VolumeLeases c = leases("host-c", (l, r) -> { });
        c.acquire("vol-2");
        LeaseTakeover takeover = c.takeover("vol-2").orElseThrow(() -> new AssertionError("host-b's early teardown must not clear host-a's guard"));
        assertEquals("host-b", takeover.previousHostId());
        assertEquals(Duration.ofMillis(5000), takeover.previousGuard(), "host-b promised the wait it inherited, not its own 1.5 s");
        assertEquals(Duration.ofMillis(6000), takeover.waitTime());
    }

    @Test
    void aRecordThatDoesNotSayTheGuardWaitsTheLongestThisHostKnows() throws Exception {
        CuratorFramework raw = client(3000);
        // An epoch record of an earlier version: just the number, nothing about its holder.
        raw.create().creatingParentsIfNeeded().forPath(VolumeLeases.EPOCHS + "/vol-old", "4".getBytes(StandardCharsets.UTF_8));
        VolumeLeases a = leases("host-a", (l, r) -> { });
        assertEquals(5, a.acquire("vol-old").epoch());
        LeaseTakeover takeover = a.takeover("vol-old").orElseThrow();
        assertNull(takeover.previousHostId());
        assertNull(takeover.previousGuard());
        assertTrue(takeover.waitTime().compareTo(GUARD.plus(VolumeLeases.TAKEOVER_MARGIN)) >= 0, "at least this host's own guard: " + takeover);
    }

    @Test
    void anEpochRecordIsInputFromAStranger() {
        assertThrows(IllegalArgumentException.class, () -> LeaseEpochRecord.fromBytes("v", "seven".getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalArgumentException.class, () -> LeaseEpochRecord.fromBytes("v", "-3".getBytes(StandardCharsets.UTF_8)));
        LeaseEpochRecord r = LeaseEpochRecord.fromBytes("v", "7\nholder=host-a\nguard-ms=lots\nfuture=1".getBytes(StandardCharsets.UTF_8));
        assertEquals(7, r.epoch());
        assertEquals("host-a", r.holder());
        assertNull(r.guard(), "a guard that cannot be read is not said");
        assertFalse(r.released());
        assertEquals(r.givenBack(), LeaseEpochRecord.fromBytes("v", r.givenBack().toBytes()), "what it writes it reads");
        assertNull(LeaseEpochRecord.fromBytes("v", "7\nguard-ms=-5".getBytes(StandardCharsets.UTF_8)).guard());
    }
}
