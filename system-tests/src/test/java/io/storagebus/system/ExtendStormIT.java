package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.blockfile.BlockfileDriver;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.CapacityAlert;
import io.storagebus.schema.DomainCapacity;
import io.storagebus.schema.CapacityLevel;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.schema.WatermarkReason;
import io.storagebus.worker.HostWorker;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.sim.SimulatedHosts;
import io.storagebus.worker.thin.ExtendPolicy;
import io.storagebus.worker.thin.TimeToFull;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SPM's extends of many volumes at once, against a real blockfile domain with a capacity:
 * the reports of a storm are handled in parallel, yet each volume gets exactly the extends the
 * policy asks for, in order; the capacity ledger ends equal to the storage; and a deposed SPM's
 * parallel extends are all refused by the fence.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ExtendStormIT {
    private static final long MIB = Sizes.MIB;
    private static final Duration WAIT = Duration.ofSeconds(60);
    /** 8 MiB chunks, reported with 20 % of a chunk (1.6 MiB) left; no rate-based growth. */
    private static final ExtendPolicy POLICY = new ExtendPolicy(8 * MIB, 20, 0);
    private static final int VOLUMES = 40;
    private static final String[] HOSTS = {"storm-host-a", "storm-host-b", "storm-host-c", "storm-host-d"};

    private Path tmp;
    private Cluster cluster;
    private HostWorker spm;
    private final StorageDriver driver = DriverRegistry.wrap(new BlockfileDriver());
    private KafkaProducer<String, byte[]> producer;
    private KafkaConsumer<String, byte[]> answers;
    private final Map<String, List<Long>> refreshed = new ConcurrentHashMap<>();
    private final Map<String, Long> requested = new ConcurrentHashMap<>();
    private final List<String> stop = new CopyOnWriteArrayList<>();
    private Thread reader;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        cluster = new Cluster(new InProcessKafka(tmp.resolve("kafka")), tmp);
        // Thresholds that a test's few hundred MiB of extends cross: warn under 10 h to full, critical under 1 h.
        spm = cluster.startWorker("storm-spm", c -> c.withExtendPolicy(POLICY, WorkerConfig.DEFAULT_BLOCK_STATS_INTERVAL)
                .withTimeToFull(new TimeToFull(Duration.ofHours(10), Duration.ofHours(1))));
        await().atMost(WAIT).until(() -> spm.spmTerm().isPresent());
        String bootstrap = cluster.kafka.bootstrapServers();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            List<org.apache.kafka.clients.admin.NewTopic> topics = new ArrayList<>();
            for (String h : HOSTS) {
                topics.add(Topics.hostCommandTopic(h, (short) 1));
            }
            Topics.ensure(admin, topics);
        }
        producer = new KafkaProducer<>(KafkaClients.producer(bootstrap));
        answers = new KafkaConsumer<>(KafkaClients.consumer(bootstrap));
        List<TopicPartition> partitions = new ArrayList<>();
        for (String h : HOSTS) {
            answers.partitionsFor(Topics.hostCommands(h)).forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
        }
        answers.assign(partitions);
        answers.seekToBeginning(partitions);
        MessageCodec codec = MessageCodec.standard();
        reader = new Thread(() -> {
            try {
                while (stop.isEmpty()) {
                    for (ConsumerRecord<String, byte[]> r : answers.poll(Duration.ofMillis(100))) {
                        if (codec.decode(r.value()) instanceof RefreshVolume refresh) {
                            requested.put(refresh.getVolumeId(), refresh.getRequestedAllocation());
                            refreshed.computeIfAbsent(refresh.getVolumeId(), v -> new CopyOnWriteArrayList<>()).add(refresh.getAllocation());
                        }
                    }
                }
            } catch (UndecodableRecordException e) {
                throw new AssertionError("the SPM sent an undecodable answer", e);
            } finally {
                answers.close();
            }
        }, "storm-answers");
        reader.start();
    }

    @AfterAll
    void stop() throws Exception {
        stop.add("stop");
        if (reader != null) {
            reader.join(5000);
        }
        if (producer != null) {
            producer.close();
        }
        cluster.close();
    }

    private DomainRef domain(String name, String capacity) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        return DomainRef.newBuilder().setId(name).setDriver("blockfile")
                .setProperties(Map.of(BlockfileDriver.PATH, dir.toString(), BlockfileDriver.CAPACITY, capacity)).build();
    }

    private List<String> volumes(DomainRef domain, int count) throws Exception {
        DomainContext context = new DomainContext(domain.getId(), domain.getProperties());
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String id = domain.getId() + "-vol-" + i;
            driver.create(context, new VolumeSpec(id, id, 256 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 16 * MIB));
            ids.add(id);
        }
        return ids;
    }

    /** What a host sends when its guest's writes reach {@code highestOffset} of {@code allocation}. */
    private void report(DomainRef domain, String volumeId, int index, long allocation, long highestOffset) {
        String host = HOSTS[index % HOSTS.length];
        producer.send(Records.of(Topics.watermarks(Cluster.POOL), volumeId, VolumeWatermark.newBuilder()
                .setEnvelope(Envelopes.origin(Cluster.POOL, "host:" + host, "storm-" + volumeId)).setVolumeId(volumeId).setDomain(domain)
                .setHostId(host).setAllocation(allocation).setHighestOffset(highestOffset).setWriteRate(0)
                .setReason(WatermarkReason.THRESHOLD).setPaused(false).build()));
    }

    private long allocated(DomainRef domain, String volumeId) throws Exception {
        return driver.info(new DomainContext(domain.getId(), domain.getProperties()), new io.storagebus.driver.VolumeUri(domain.getId(), volumeId))
                .allocatedSize();
    }

    /**
     * The benchmark's simulated hosts against the real SPM: their command topics are read by
     * several consumers, a probe volume's report is answered (the SPM is settled) and then
     * forgotten, and a storm of first thresholds from 60 hosts gets every volume one extend.
     */
    @Test
    @Order(0)
    void simulatedHostsGetEveryAnswerThroughSeveralConsumersAndTheirProbeIsNotCounted() throws Exception {
        DomainRef domain = domain("simulated", "4G");
        int hosts = 2 * SimulatedHosts.HOSTS_PER_CONSUMER + 10;
        List<String> ids = volumes(domain, hosts + 1);
        String probe = ids.get(0);
        try (SimulatedHosts sim = new SimulatedHosts(Cluster.POOL, cluster.kafka.bootstrapServers(), POLICY, MIB)) {
            for (int h = 0; h < hosts; h++) {
                sim.host("simulated-" + h, List.of(new SimulatedHosts.Volume(ids.get(h + 1), domain, 16 * MIB)));
            }
            sim.warmUp(List.of(new SimulatedHosts.Volume(probe, domain, 16 * MIB)), WAIT);
            assertEquals(24 * MIB, allocated(domain, probe), "the probe was extended by a chunk");
            assertEquals(0, sim.answeredVolumes(), "the probe is not counted");
            assertEquals(0, sim.roundTripsMillis().length, "the probe's round trip is not counted");

            sim.start(Duration.ofSeconds(1));
            await().atMost(WAIT).until(sim::answeredVolumes, n -> n == hosts);
            assertEquals(hosts, sim.roundTripsMillis().length, "one round trip per volume");
            assertEquals(0, sim.pauses());
        }
        for (String id : ids) {
            assertEquals(24 * MIB, allocated(domain, id), id + " extended once");
        }
    }

    /**
     * Three reports per volume in a burst, of writes within the headroom of 16 MiB: the policy
     * asks for one extend to 24 MiB (a chunk more), whatever reports a poll coalesces. Then one
     * more round past 24 MiB: 32 MiB. Each volume's answers never go back.
     */
    @Test
    @Order(1)
    void aBurstOfReportsOfManyVolumesGetsExactlyThePolicysExtendsInOrderPerVolume() throws Exception {
        DomainRef domain = domain("storm", "4G");
        List<String> ids = volumes(domain, VOLUMES);
        for (long offset : new long[] {14 * MIB + MIB / 2, 15 * MIB, 15 * MIB + MIB / 2}) {
            for (int i = 0; i < ids.size(); i++) {
                report(domain, ids.get(i), i, 16 * MIB, offset);
            }
        }
        producer.flush();
        for (String id : ids) {
            await().atMost(WAIT).until(() -> refreshed.getOrDefault(id, List.of()).size() >= 1);
        }
        for (String id : ids) {
            assertEquals(24 * MIB, allocated(domain, id), id);
        }
        for (int i = 0; i < ids.size(); i++) {
            report(domain, ids.get(i), i, 24 * MIB, 23 * MIB);
        }
        producer.flush();
        for (String id : ids) {
            await().atMost(WAIT).until(() -> refreshed.getOrDefault(id, List.of()).contains(32 * MIB));
            assertEquals(32 * MIB, allocated(domain, id), id);
            List<Long> seen = refreshed.get(id);
            for (int k = 1; k < seen.size(); k++) {
                assertTrue(seen.get(k) >= seen.get(k - 1), id + " answers went back: " + seen);
            }
            assertTrue(seen.stream().allMatch(a -> a == 24 * MIB || a == 32 * MIB), id + ": " + seen);
        }
        long used = VOLUMES * 32 * MIB;
        DomainContext context = new DomainContext(domain.getId(), domain.getProperties());
        assertEquals(4096 * MIB - used, driver.freeSpace(context).orElseThrow(), "the ledger's free space is the storage's");

        // 640 MiB asked for within seconds, in a domain with 2,816 MiB left: about 40 minutes to full at that rate.
        // The forecast crossed 10 h after a handful of extends and 1 h late in the second round, each once.
        await().atMost(WAIT).until(() -> capacityAlerts(domain).size() >= 2);
        List<CapacityAlert> alerts = capacityAlerts(domain);
        assertEquals(List.of(CapacityLevel.WARNING, CapacityLevel.CRITICAL), alerts.stream().map(CapacityAlert::getLevel).toList(),
                alerts.toString());
        long toFull = alerts.get(1).getSecondsToFull();
        assertTrue(toFull > 30 * 60 && toFull < 60 * 60, "forecast when critical: " + toFull + " s");

        // The managers' view (storagebus.state.capacity) was told at each crossing: its latest record is the critical one.
        DomainCapacity state = await().atMost(WAIT).until(() -> latestCapacity(domain),
                c -> c != null && c.getLevel() == CapacityLevel.CRITICAL);
        assertEquals(alerts.get(1).getFreeBytes(), state.getFreeBytes(), state.toString());
        assertEquals(toFull, state.getSecondsToFull(), state.toString());
        assertTrue(state.getDemandBytesPerSecond() > 0, state.toString());
        assertEquals(4096 * MIB, state.getTotalBytes(), "the domain's size is its capacity: " + state);
        assertEquals("host:storm-spm", state.getEnvelope().getIssuer());
    }

    /** The last DomainCapacity the SPM wrote for the domain, null if none. */
    private DomainCapacity latestCapacity(DomainRef domain) throws UndecodableRecordException {
        MessageCodec codec = MessageCodec.standard();
        DomainCapacity latest = null;
        for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.CAPACITY_STATE)) {
            if (domain.getId().equals(r.key()) && codec.decode(r.value()) instanceof DomainCapacity c) {
                latest = c;
            }
        }
        return latest;
    }

    /**
     * A domain that has room for only some of a storm's extends: each extend is checked under the
     * domain's lock, so parallel extends never take more than the capacity, and every refused one
     * is answered with a failure, not silence.
     */
    @Test
    @Order(2)
    void parallelExtendsNeverExceedTheCapacity() throws Exception {
        DomainRef domain = domain("tight", (VOLUMES * 16 + 10 * 8) + "M"); // room for 10 of the 40 extends
        List<String> ids = volumes(domain, VOLUMES);
        for (int i = 0; i < ids.size(); i++) {
            report(domain, ids.get(i), i, 16 * MIB, 15 * MIB);
        }
        producer.flush();
        await().atMost(WAIT).until(() -> ids.stream().filter(refreshed::containsKey).count() + failedExtends(domain).size() >= VOLUMES);
        long extended = 0;
        for (String id : ids) {
            extended += allocated(domain, id) == 24 * MIB ? 1 : 0;
        }
        assertEquals(10, extended, "exactly as many extends as the capacity holds");
        assertEquals(VOLUMES - 10, failedExtends(domain).size(), "every other report is answered with VolumeExtendFailed");
    }

    private List<String> failedExtends(DomainRef domain) throws UndecodableRecordException {
        MessageCodec codec = MessageCodec.standard();
        List<String> failed = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS)) {
            if (codec.decode(r.value()) instanceof io.storagebus.schema.VolumeExtendFailed f && f.getDomainId().equals(domain.getId())) {
                failed.add(f.getVolumeId());
            }
        }
        return failed;
    }

    /** How often an SPM loop of this JVM found itself fenced (the metric operators alert on). */
    private static double fencedCount() {
        return StorageBusMetrics.get().scrape().lines().filter(l -> l.startsWith("storagebus_spm_fenced_total{"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    /** A newer term wrote the domain: every one of the old SPM's parallel extends is refused by the fence. */
    /**
     * A domain with less room than a chunk but more than the headroom gives a volume all it has,
     * says so (the answer's requested allocation, a CapacityAlert), and the guest keeps going;
     * with less than the headroom left the extend is refused.
     */
    @Test
    @Order(3)
    void aDomainShortOfAChunkGrantsWhatItHasAndRaisesAnAlert() throws Exception {
        DomainRef domain = domain("short", (2 * 16 + 5) + "M"); // two volumes of 16 MiB, then 5 MiB: less than an 8 MiB chunk
        List<String> ids = volumes(domain, 2);
        report(domain, ids.get(0), 0, 16 * MIB, 15 * MIB);
        producer.flush();
        await().atMost(WAIT).until(() -> refreshed.containsKey(ids.get(0)));
        assertEquals(21 * MIB, allocated(domain, ids.get(0)), "all 5 free MiB granted");
        assertEquals(List.of(21 * MIB), refreshed.get(ids.get(0)));
        assertEquals(24 * MIB, requested.get(ids.get(0)), "the answer says what the policy asked for");
        await().atMost(WAIT).until(() -> alerts(domain).contains(ids.get(0) + ":" + 3 * MIB));

        report(domain, ids.get(1), 1, 16 * MIB, 15 * MIB);
        producer.flush();
        await().atMost(WAIT).until(() -> failedExtends(domain).contains(ids.get(1)));
        assertEquals(16 * MIB, allocated(domain, ids.get(1)), "nothing left above the headroom: refused");
        assertTrue(!refreshed.containsKey(ids.get(1)));
    }

    /** The domain's SHORT CapacityAlerts as volume:neededBytes. */
    private List<String> alerts(DomainRef domain) throws UndecodableRecordException {
        return capacityAlerts(domain).stream().filter(a -> a.getLevel() == CapacityLevel.SHORT)
                .map(a -> a.getVolumeId() + ":" + a.getNeededBytes()).toList();
    }

    private List<CapacityAlert> capacityAlerts(DomainRef domain) throws UndecodableRecordException {
        MessageCodec codec = MessageCodec.standard();
        List<CapacityAlert> alerts = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : TopicReader.readAll(cluster.kafka.bootstrapServers(), Topics.EVENTS)) {
            if (codec.decode(r.value()) instanceof CapacityAlert a && a.getDomainId().equals(domain.getId())) {
                alerts.add(a);
            }
        }
        return alerts;
    }

    /**
     * The ledger a new term builds from the storage after a storm, kept through the new SPM's
     * deletes and extends, is what a fresh scan of the storage says. The storm's extends are the
     * running SPM's; the new term is this test's driver (another ledger, as another process's
     * would be), which takes the domain over; no report is sent for the domain afterwards, so the
     * running SPM is not fenced before the next test.
     */
    @Test
    @Order(4)
    void afterAStormANewTermsLedgerThroughDeletesAndExtendsIsWhatTheStorageSays() throws Exception {
        DomainRef domain = domain("ledger", "4G");
        List<String> ids = volumes(domain, VOLUMES);
        for (int i = 0; i < ids.size(); i++) {
            report(domain, ids.get(i), i, 16 * MIB, 15 * MIB);
        }
        producer.flush();
        for (String id : ids) {
            await().atMost(WAIT).until(() -> refreshed.getOrDefault(id, List.of()).contains(24 * MIB));
        }
        DomainContext next = new DomainContext(domain.getId(), domain.getProperties()).withEpoch(spm.spmTerm().orElseThrow().epoch() + 1);
        assertEquals(4096 * MIB - VOLUMES * 24 * MIB, driver.freeSpace(next).orElseThrow(), "the new term's ledger, built by a scan");
        for (int i = 0; i < 10; i++) {
            driver.destroy(next, new io.storagebus.driver.VolumeUri(domain.getId(), ids.get(i)), false);
        }
        for (int i = 10; i < 20; i++) {
            driver.extend(next, new io.storagebus.driver.VolumeUri(domain.getId(), ids.get(i)), 64 * MIB);
        }
        driver.create(next, new VolumeSpec("ledger-late", "ledger-late", 256 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 16 * MIB));
        long expected = 4096 * MIB - 10 * 64 * MIB - 20 * 24 * MIB - 16 * MIB;
        assertEquals(expected, driver.freeSpace(next).orElseThrow(), "the ledger after deletes, extends and a create");
        StorageDriver fresh = DriverRegistry.wrap(new BlockfileDriver());
        assertEquals(expected, fresh.freeSpace(new DomainContext(domain.getId(), domain.getProperties())).orElseThrow(),
                "a fresh scan of the storage");
    }

    @Test
    @Order(5)
    void aDeposedSpmsParallelExtendsAreAllRefused() throws Exception {
        DomainRef domain = domain("deposed", "4G");
        List<String> ids = volumes(domain, VOLUMES);
        long term = spm.spmTerm().orElseThrow().epoch();
        double fencedBefore = fencedCount();
        DomainContext newer = new DomainContext(domain.getId(), domain.getProperties()).withEpoch(term + 1);
        driver.create(newer, new VolumeSpec("newer-term", "newer-term", 256 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 16 * MIB));
        Map<String, Long> before = new HashMap<>();
        for (String id : ids) {
            before.put(id, allocated(domain, id));
        }
        for (int i = 0; i < ids.size(); i++) {
            report(domain, ids.get(i), i, 16 * MIB, 15 * MIB);
        }
        producer.flush();
        // The loop stops at the first fence; what it must never do is grow a volume.
        await().atMost(WAIT).until(() -> fencedCount() > fencedBefore);
        for (String id : ids) {
            assertEquals(before.get(id), allocated(domain, id), id + " grew under a stale epoch");
            assertTrue(!refreshed.containsKey(id), id + " was answered by a deposed SPM");
        }
    }
}
