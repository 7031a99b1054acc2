package io.storagebus.leases;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;

/** SPM election against a real ZooKeeper server. */
class SpmElectionTest extends ZooKeeperTestBase {
    /** Records the terms a host saw, in order. */
    static final class Recorder implements SpmListener {
        final List<String> log = new CopyOnWriteArrayList<>();

        @Override
        public void termStarted(SpmTerm term) {
            log.add("start:" + term.epoch());
        }

        @Override
        public void termEnded(SpmTerm term) {
            log.add("end:" + term.epoch());
        }
    }

    private CuratorFramework client() {
        return client(4000);
    }

    private SpmElection join(String host, Recorder recorder) throws Exception {
        SpmElection election = new SpmElection(client(), "pool-a", host, recorder);
        closeables.add(election);
        election.start();
        return election;
    }

    @Test
    void exactlyOneOfThreeHostsIsSpm() throws Exception {
        List<SpmElection> elections = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            elections.add(join("host-" + i, new Recorder()));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> elections.stream().anyMatch(SpmElection::isSpm));
        assertEquals(1, elections.stream().filter(SpmElection::isSpm).count());
        SpmTerm term = elections.stream().filter(SpmElection::isSpm).findFirst().orElseThrow().currentTerm().orElseThrow();
        assertEquals(1, term.epoch());
    }

    @Test
    void handOverBumpsTheEpochAndTheDirectoryFollows() throws Exception {
        SpmDirectory directory = new SpmDirectory(client());
        closeables.add(directory);
        directory.start();

        Recorder first = new Recorder();
        SpmElection a = join("host-a", first);
        await().atMost(Duration.ofSeconds(10)).until(a::isSpm);
        Recorder second = new Recorder();
        SpmElection b = join("host-b", second);
        await().atMost(Duration.ofSeconds(5)).until(() -> directory.spmOf("pool-a").map(SpmTerm::hostId).orElse("").equals("host-a"));

        a.close();
        await().atMost(Duration.ofSeconds(10)).until(b::isSpm);
        assertEquals(List.of("start:1", "end:1"), first.log);
        assertEquals(List.of("start:2"), second.log);
        await().atMost(Duration.ofSeconds(5)).until(() -> directory.spmOf("pool-a").map(SpmTerm::epoch).orElse(0L) == 2L);
        assertEquals("host-b", directory.spmOf("pool-a").orElseThrow().hostId());
    }

    @Test
    void losingZooKeeperEndsTheTermAndANewTermGetsAHigherEpoch() throws Exception {
        Recorder recorder = new Recorder();
        SpmElection a = join("host-a", recorder);
        await().atMost(Duration.ofSeconds(10)).until(a::isSpm);

        zk.stop();
        // SUSPENDED must end the term: the host cannot be sure it still leads.
        await().atMost(Duration.ofSeconds(10)).until(() -> recorder.log.contains("end:1"));
        assertTrue(!a.isSpm(), "no term while ZooKeeper is away");

        zk.restart();
        await().atMost(Duration.ofSeconds(20)).until(a::isSpm);
        assertTrue(a.currentTerm().orElseThrow().epoch() > 1, "epoch must grow across terms: " + recorder.log);
    }
}
