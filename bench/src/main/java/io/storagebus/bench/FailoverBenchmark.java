package io.storagebus.bench;

import static io.storagebus.bench.Figures.option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.leases.SpmDirectory;
import io.storagebus.leases.SpmTerm;
import io.storagebus.leases.ZooKeeperClients;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.storagebus.testkit.StorageBusProcess;
import org.apache.avro.specific.SpecificRecord;
import org.apache.curator.framework.CuratorFramework;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * SPM failover after a crash: two host workers as separate processes; while commands flow (one
 * CreateVolume every 20 ms), the SPM is killed with SIGKILL. Failover is the time from the kill
 * to the first VolumeCreated published by the new SPM term, read off the events topic. Repeated
 * {@code --kills} times; printed next to the ZooKeeper session timeout, which is its floor.
 */
public final class FailoverBenchmark {
    private FailoverBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int kills = Integer.parseInt(option(args, "--kills", "20"));
        int sessionMs = Integer.parseInt(option(args, "--session-timeout-ms", "4000"));
        int tickMs = Integer.parseInt(option(args, "--zk-tick-ms", "1000"));
        Path dist = Path.of(System.getProperty("storagebus.home", "."), "dist", "target");
        Path dir = Files.createTempDirectory("sb-bench-failover-");
        Path images = Files.createDirectories(dir.resolve("images"));
        List<Double> seconds = new ArrayList<>();
        try (EmbeddedZooKeeper zk = new EmbeddedZooKeeper(dir.resolve("zk"), 0, tickMs).start();
             EmbeddedKafka kafka = new EmbeddedKafka(dir.resolve("kafka"), 0).start();
             CuratorFramework client = ZooKeeperClients.connect(zk.connectString(), 10_000);
             SpmDirectory spms = new SpmDirectory(client);
             KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(kafka.bootstrapServers()));
             KafkaConsumer<String, byte[]> events = new KafkaConsumer<>(KafkaClients.consumer(kafka.bootstrapServers()))) {
            spms.start();
            List<StorageBusProcess> workers = new ArrayList<>();
            for (String host : List.of("host-a", "host-b")) {
                workers.add(StorageBusProcess.worker(dist, host, kafka.bootstrapServers(), zk.connectString(), sessionMs, dir).start());
            }
            SpmTerm first = spms.nextTerm("default", 0).get(120, TimeUnit.SECONDS);
            List<TopicPartition> partitions = events.partitionsFor(Topics.EVENTS).stream()
                    .map(p -> new TopicPartition(Topics.EVENTS, p.partition())).toList();
            events.assign(partitions);
            events.seekToEnd(partitions);
            DomainRef domain = DomainRef.newBuilder().setId("bench").setDriver("file").setProperties(Map.of("path", images.toString())).build();
            // One command every 20 ms, on a timer.
            ScheduledExecutorService commands = Executors.newSingleThreadScheduledExecutor();
            commands.scheduleAtFixedRate(() -> {
                String id = UUID.randomUUID().toString();
                CreateVolume cmd = CreateVolume.newBuilder().setEnvelope(Envelopes.origin("default", "manager:bench", id)).setTaskId(id)
                        .setVolumeId(id).setDomain(domain).setName("b").setVirtualSize(1 << 20)
                        .setFormat(VolumeFormat.RAW).setAllocation(Allocation.THIN).build();
                producer.send(new ProducerRecord<>(Topics.spmCommands("default"), id, MessageCodec.standard().encode(cmd)));
            }, 0, 20, TimeUnit.MILLISECONDS);
            SpmTerm term = first;
            for (int i = 0; i < kills; i++) {
                SpmTerm current = term;
                StorageBusProcess spm = workers.stream().filter(w -> w.hostId().equals(current.hostId())).findFirst().orElseThrow();
                awaitCreatedUnder(events, current.epoch(), Instant.now().plusSeconds(60));
                long killed = System.nanoTime();
                spm.kill();
                long done = awaitCreatedUnder(events, current.epoch() + 1, Instant.now().plusSeconds(120));
                seconds.add((done - killed) / 1e9);
                term = spms.spmOf("default").orElseThrow();
                System.out.printf(Locale.ROOT, "kill %2d: %s (epoch %d) -> %s (epoch %d): %.2f s%n", i + 1, current.hostId(),
                        current.epoch(), term.hostId(), term.epoch(), seconds.get(seconds.size() - 1));
                workers.remove(spm);
                workers.add(StorageBusProcess.worker(dist, spm.hostId(), kafka.bootstrapServers(), zk.connectString(), sessionMs, dir).start());
            }
            commands.shutdownNow();
            for (StorageBusProcess w : workers) {
                w.close();
            }
        } finally {
            new ProcessBuilder("rm", "-rf", dir.toString()).start().waitFor();
        }
        List<Double> sorted = seconds.stream().sorted().toList();
        double median = sorted.size() % 2 == 1 ? sorted.get(sorted.size() / 2)
                : (sorted.get(sorted.size() / 2 - 1) + sorted.get(sorted.size() / 2)) / 2;
        System.out.printf(Locale.ROOT, "failover after kill -9 over %d kills: min %.2f s, median %.2f s, max %.2f s; "
                        + "ZooKeeper session timeout %.1f s, tick %d ms%n",
                sorted.size(), sorted.get(0), median, sorted.get(sorted.size() - 1), sessionMs / 1000.0, tickMs);
        System.out.printf(Locale.ROOT, "{\"kills\":%d,\"session_timeout_s\":%.1f,\"zk_tick_ms\":%d,\"min_s\":%.2f,\"median_s\":%.2f,\"max_s\":%.2f}%n",
                sorted.size(), sessionMs / 1000.0, tickMs, sorted.get(0), median, sorted.get(sorted.size() - 1));
    }

    /** Nanotime of the first VolumeCreated of an SPM term with at least {@code epoch}. */
    private static long awaitCreatedUnder(KafkaConsumer<String, byte[]> events, long epoch, Instant deadline) throws Exception {
        while (Instant.now().isBefore(deadline)) {
            for (ConsumerRecord<String, byte[]> r : events.poll(Duration.ofMillis(100))) {
                SpecificRecord e = MessageCodec.standard().decode(r.value());
                if (e instanceof VolumeCreated c && c.getEnvelope().getSpmEpoch() != null && c.getEnvelope().getSpmEpoch() >= epoch) {
                    return System.nanoTime();
                }
            }
        }
        throw new IllegalStateException("no volume created under epoch " + epoch + " in time");
    }
}
