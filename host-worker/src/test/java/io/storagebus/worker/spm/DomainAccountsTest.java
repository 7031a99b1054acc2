package io.storagebus.worker.spm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.Epoch;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.blockfile.BlockfileDriver;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.DomainStatus;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.worker.WorkerConfig;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A term's start reads the free space of its pool's domains, so their capacity accounts exist
 * before any extend: a file grown behind the driver's back after the term started is not in the
 * account (it was built before), while a domain of another pool, or one whose state was deleted,
 * is scanned only when first asked about, and sees it.
 */
class DomainAccountsTest {
    private static final long MIB = Sizes.MIB;
    private static EmbeddedKafka kafka;

    @TempDir
    static Path dir;

    @BeforeAll
    static void start() throws Exception {
        kafka = new EmbeddedKafka(dir.resolve("kafka"), EmbeddedKafka.freePort()).start();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            Topics.ensure(admin, Topics.shared((short) 1));
        }
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    @Test
    void aTermsStartBuildsTheAccountsOfItsPoolsDomainsOnly() throws Exception {
        StorageDriver driver = DriverRegistry.wrap(new BlockfileDriver());
        DomainState ours = domain("ours", "pool-a");
        DomainState otherPool = domain("other-pool", "pool-b");
        DomainState deleted = domain("deleted", "pool-a");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(kafka.bootstrapServers()))) {
            for (DomainState state : List.of(ours, otherPool, deleted)) {
                producer.send(Records.of(Topics.DOMAIN_STATE, state.getId(), state));
            }
            producer.send(new ProducerRecord<>(Topics.DOMAIN_STATE, "garbage", new byte[] {1, 2, 3}));
            producer.send(new ProducerRecord<>(Topics.DOMAIN_STATE, deleted.getId(), null));
            producer.flush();
        }
        SpmTerm term = new SpmTerm("pool-a", "host-1", 3, Instant.now());
        DomainAccounts accounts = new DomainAccounts(WorkerConfig.of("host-1", "pool-a", kafka.bootstrapServers(), "127.0.0.1:1"), term,
                DriverRegistry.of(driver));
        accounts.start();
        accounts.awaitDone();

        Map<DomainState, Long> freeBefore = new java.util.HashMap<>();
        for (DomainState state : List.of(ours, otherPool, deleted)) {
            freeBefore.put(state, driver.freeSpace(context(state, Epoch.UNFENCED)).orElseThrow());
            growBehindTheDriversBack(state);
        }
        assertEquals(freeBefore.get(ours), driver.freeSpace(context(ours, Epoch.of(3))).orElseThrow(),
                "the account was built at the term's start, before the file grew");
        assertNotEquals(freeBefore.get(otherPool), driver.freeSpace(context(otherPool, Epoch.of(3))).orElseThrow(),
                "another pool's domain is scanned when first asked about");
        assertNotEquals(freeBefore.get(deleted), driver.freeSpace(context(deleted, Epoch.of(3))).orElseThrow(),
                "a deleted domain is not read at the term's start");
    }

    /** A blockfile domain with a capacity and a thin volume of 16 MiB allocated. */
    private static DomainState domain(String name, String pool) throws Exception {
        Path path = Files.createDirectories(dir.resolve(name));
        Map<String, String> properties = Map.of(BlockfileDriver.PATH, path.toString(), BlockfileDriver.CAPACITY, "1G");
        DomainState state = DomainState.newBuilder().setEnvelope(Envelopes.origin(pool, "manager:test", name)).setId(name).setName(name)
                .setDriver("blockfile").setProperties(properties).setStatus(DomainStatus.ACTIVE).setCreatedAt(Instant.now()).build();
        DriverRegistry.wrap(new BlockfileDriver()).create(context(state, Epoch.UNFENCED),
                new VolumeSpec(name + "-vol", name + "-vol", 256 * MIB, VolumeFormat.QCOW2, Allocation.THIN, 16 * MIB));
        return state;
    }

    private static DomainContext context(DomainState state, Epoch epoch) {
        return new DomainContext(state.getId(), state.getProperties(), epoch);
    }

    /** What a file changed outside the driver looks like to a scan: 8 MiB more allocated. */
    private static void growBehindTheDriversBack(DomainState state) throws Exception {
        try (var files = Files.list(Path.of(state.getProperties().get(BlockfileDriver.PATH)).resolve("volumes"))) {
            Path data = files.filter(f -> !f.getFileName().toString().endsWith(".json")).findFirst().orElseThrow();
            try (RandomAccessFile raf = new RandomAccessFile(data.toFile(), "rw")) {
                raf.setLength(raf.length() + 8 * MIB);
            }
        }
    }
}
