package io.storagebus.bench;

import static io.storagebus.bench.Figures.max;
import static io.storagebus.bench.Figures.option;
import static io.storagebus.bench.Figures.pct;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.schema.DomainRef;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.storagebus.worker.HostWorker;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.sim.SimulatedHosts;
import io.storagebus.worker.thin.ExtendPolicy;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * The extend round trip at scale: simulated hosts (same topics, same messages as real workers)
 * write to thin volumes of a real blockfile domain at a fixed rate per volume; a real SPM (a
 * host worker) extends them on real files. The round trip is report sent to refresh command
 * received. Next to it, on the same broker and at the same time, the floor: a record produced,
 * consumed, produced again and consumed, which is what the round trip is made of besides the
 * SPM's work. The last line is JSON.
 */
public final class ExtendBenchmark {
    private static final String POOL = "bench";

    private ExtendBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int hosts = Integer.parseInt(option(args, "--hosts", "1000"));
        int perHost = Integer.parseInt(option(args, "--volumes-per-host", "10"));
        int duration = Integer.parseInt(option(args, "--duration", "60"));
        int warmup = Integer.parseInt(option(args, "--warmup", "10"));
        long rate = Long.parseLong(option(args, "--write-rate-mb", "20")) * Sizes.MIB;
        ExtendPolicy policy = new ExtendPolicy(Long.parseLong(option(args, "--chunk-mb", "2560")) * Sizes.MIB, 20, 5);
        Path dir = Path.of(option(args, "--dir", Files.createTempDirectory("sb-bench-extend-").toString()));
        String capacity = option(args, "--capacity", null);
        String storm = option(args, "--storm", null);
        String bootstrap = option(args, "--bootstrap-servers", null);
        String zookeeper = option(args, "--zookeeper", null);

        List<AutoCloseable> resources = new ArrayList<>();
        try {
            if (bootstrap == null || zookeeper == null) {
                EmbeddedZooKeeper zk = new EmbeddedZooKeeper(dir.resolve("zk"), 0).start();
                resources.add(zk);
                EmbeddedKafka kafka = new EmbeddedKafka(dir.resolve("kafka"), 0).start();
                resources.add(kafka);
                bootstrap = kafka.bootstrapServers();
                zookeeper = zk.connectString();
            }
            DomainRef domain = domain(dir, capacity);
            List<SimulatedHosts.Volume> created = createVolumes(domain, hosts * perHost + hosts);
            List<SimulatedHosts.Volume> probes = created.subList(0, hosts);
            List<SimulatedHosts.Volume> volumes = created.subList(hosts, created.size());
            SimulatedHosts sim = new SimulatedHosts(POOL, bootstrap, policy, rate);
            for (int h = 0; h < hosts; h++) {
                sim.host(String.format("sim-%04d", h), volumes.subList(h * perHost, (h + 1) * perHost));
            }
            resources.add(0, sim);
            // The hosts are up before the SPM's term and their guests' writes, as in a boot storm of a running pool.
            long started = System.nanoTime();
            sim.connect();
            double topicsReady = (System.nanoTime() - started) / 1e9;
            started = System.nanoTime();
            HostWorker spm = new HostWorker(WorkerConfig.of("bench-spm", POOL, bootstrap, zookeeper)
                    .withExtendPolicy(policy, WorkerConfig.DEFAULT_BLOCK_STATS_INTERVAL)).start();
            resources.add(0, spm);
            // A report from each host of a volume not measured, all answered: the SPM's term is settled, the domain known to
            // it and every host has had an answer before, as in a pool that has been running.
            Duration probeRoundTrip = sim.warmUp(probes, Duration.ofMinutes(2));
            System.out.printf(Locale.ROOT, "%d simulated hosts with %d volumes each, %d MiB/s per volume, chunk %d MiB; topics ready in %.1f s; "
                            + "the SPM answered a first report from each host %.1f s after its start (slowest round trip %d ms)%n",
                    hosts, perHost, rate / Sizes.MIB, policy.chunk() / Sizes.MIB, topicsReady, (System.nanoTime() - started) / 1e9,
                    probeRoundTrip.toMillis());
            // The floor's topics and clients are made before the load: a topic created during it changes every client's metadata.
            try (Floor floor = new Floor(bootstrap)) {
                sim.start(storm == null ? null : Duration.ofSeconds(Long.parseLong(storm)));
                if (storm != null) {
                    storm(sim, floor, volumes.size(), Integer.parseInt(storm), duration);
                    return;
                }
                // Measurement windows, not waits for a condition: the load runs for a fixed time.
                TimeUnit.SECONDS.sleep(warmup);
                sim.resetStatistics();
                floor.reset();
                TimeUnit.SECONDS.sleep(duration);
                double[] rt = sim.roundTripsMillis();
                double[] fl = floor.millis();
                System.out.printf(Locale.ROOT, "extends: %d in %d s (%.0f/s), round trip p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                        rt.length, duration, rt.length / (double) duration, pct(rt, 50), pct(rt, 99), max(rt));
                System.out.printf(Locale.ROOT, "floor (produce-consume-produce-consume, %d samples): p50 %.1f ms, p99 %.1f ms%n",
                        fl.length, pct(fl, 50), pct(fl, 99));
                System.out.printf(Locale.ROOT, "pauses (a volume filled before its extend arrived): %d%n", sim.pauses());
                System.out.printf(Locale.ROOT, "{\"hosts\":%d,\"volumes\":%d,\"duration_s\":%d,\"write_rate_mib_s\":%d,\"extends\":%d,"
                                + "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"floor_p50_ms\":%.2f,\"floor_p99_ms\":%.2f,\"pauses\":%d}%n",
                        hosts, volumes.size(), duration, rate / Sizes.MIB, rt.length, pct(rt, 50), pct(rt, 99), max(rt),
                        pct(fl, 50), pct(fl, 99), sim.pauses());
            }
        } finally {
            for (AutoCloseable r : resources) {
                r.close();
            }
        }
    }

    /**
     * A boot storm: every volume crosses its first threshold within {@code spread} seconds of the
     * start, and the storm is measured from the start until each has had its first extend
     * answered (or {@code limit} seconds): how long the SPM took, its rate, the round trips.
     */
    private static void storm(SimulatedHosts sim, Floor floor, int volumes, int spread, int limit) throws Exception {
        long cpuAtStart = processCpuNanos();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(limit);
        // A tool's progress check, not a test's wait: it ends at the deadline whatever the answer.
        while (sim.answeredVolumes() < volumes && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(100);
        }
        double cpuMillis = (processCpuNanos() - cpuAtStart) / 1e6;
        double[] rt = sim.roundTripsMillis();
        double[] fl = floor.millis();
        sim.roundTripsBySecond().forEach((second, ms) -> System.out.printf(Locale.ROOT,
                "  reports sent in second %d: %d answered, round trip p50 %.0f ms, p99 %.0f ms, max %.0f ms%n",
                second, ms.length, pct(ms, 50), pct(ms, 99), max(ms)));
        int answered = sim.answeredVolumes();
        double took = sim.secondsToLastFirstAnswer();
        System.out.printf(Locale.ROOT, "storm: %d volumes crossing their first threshold within %d s; %d answered, the last %.1f s after the start "
                        + "(%.0f extends/s); round trip p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                volumes, spread, answered, took, answered / took, pct(rt, 50), pct(rt, 99), max(rt));
        System.out.printf(Locale.ROOT, "floor (produce-consume-produce-consume, %d samples): p50 %.1f ms, p99 %.1f ms%n",
                fl.length, pct(fl, 50), pct(fl, 99));
        System.out.printf(Locale.ROOT, "pauses (a volume filled before its extend arrived): %d%n", sim.pauses());
        System.out.printf(Locale.ROOT, "CPU of this process (the SPM, the simulated hosts and an embedded broker) during the storm: %.1f s, %.2f ms per extend%n",
                cpuMillis / 1000, cpuMillis / Math.max(1, sim.answeredVolumes()));
        System.out.printf(Locale.ROOT, "{\"volumes\":%d,\"storm_s\":%d,\"answered\":%d,\"storm_took_s\":%.2f,\"extends_per_s\":%.1f,"
                        + "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"floor_p50_ms\":%.2f,\"floor_p99_ms\":%.2f,\"pauses\":%d,"
                        + "\"cpu_ms_per_extend\":%.3f,\"heap_used_mib\":%d}%n",
                volumes, spread, answered, took, answered / took, pct(rt, 50), pct(rt, 99), max(rt), pct(fl, 50), pct(fl, 99), sim.pauses(),
                cpuMillis / Math.max(1, answered), heapUsedMib());
    }

    /** CPU time of this process (every thread), in nanoseconds. */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** The heap in use after a full collection: the SPM, the broker and the simulation together, so an upper bound of the SPM's. */
    private static long heapUsedMib() {
        System.gc();
        Runtime r = Runtime.getRuntime();
        return (r.totalMemory() - r.freeMemory()) / Sizes.MIB;
    }

    /** With a capacity, every extend checks the domain's free space under it, as a VG's size limits its LVs. */
    private static DomainRef domain(Path dir, String capacity) throws Exception {
        Path volumes = Files.createDirectories(dir.resolve("domain"));
        Map<String, String> properties = capacity == null ? Map.of("path", volumes.toString())
                : Map.of("path", volumes.toString(), "capacity", capacity);
        return DomainRef.newBuilder().setId("bench-domain").setDriver("blockfile").setProperties(properties).build();
    }

    /** Thin qcow2 volumes of 1 TiB with 1 GiB allocated, sparse; kept in the directory for the next run. */
    private static List<SimulatedHosts.Volume> createVolumes(DomainRef domain, int count) throws Exception {
        StorageDriver driver = DriverRegistry.load().find("blockfile").orElseThrow();
        // Made without the capacity: setting up is not measured, and each create outside a term would size every file.
        Map<String, String> uncapped = new java.util.HashMap<>(domain.getProperties());
        uncapped.remove("capacity");
        DomainContext context = new DomainContext(domain.getId(), uncapped);
        long started = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<SimulatedHosts.Volume>> futures = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String id = String.format("vol-%05d", i);
            futures.add(pool.submit(() -> {
                long allocated = driver.create(context, new VolumeSpec(id, id, (1024 * Sizes.GIB), VolumeFormat.QCOW2, Allocation.THIN, Sizes.GIB))
                        .allocatedSize();
                return new SimulatedHosts.Volume(id, domain, allocated);
            }));
        }
        List<SimulatedHosts.Volume> volumes = new ArrayList<>();
        for (Future<SimulatedHosts.Volume> f : futures) {
            volumes.add(f.get());
        }
        pool.shutdown();
        System.out.printf(Locale.ROOT, "%d volumes ready in %.1f s%n", count, (System.nanoTime() - started) / 1e9);
        return volumes;
    }

    /**
     * Ping-pong on two topics of the same broker, 50 times a second: produce to A, a bridge
     * consumes and produces to B, consume from B. The same client settings as the extend path.
     */
    private static final class Floor implements AutoCloseable {
        private static final String A = "storagebus.bench.floor-a";
        private static final String B = "storagebus.bench.floor-b";
        private final KafkaProducer<String, byte[]> producer;
        private final KafkaConsumer<String, byte[]> bridgeIn;
        private final KafkaConsumer<String, byte[]> sink;
        private final Map<String, Long> sent = new ConcurrentHashMap<>();
        private final List<Long> samples = java.util.Collections.synchronizedList(new ArrayList<>());
        private final ScheduledExecutorService pinger = Executors.newSingleThreadScheduledExecutor();
        private final Thread bridge;
        private final Thread receiver;
        private volatile boolean running = true;

        Floor(String bootstrap) {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                Topics.ensure(admin, List.of(new NewTopic(A, 1, (short) 1), new NewTopic(B, 1, (short) 1)));
            }
            producer = new KafkaProducer<>(KafkaClients.producer(bootstrap));
            bridgeIn = assigned(bootstrap, A);
            sink = assigned(bootstrap, B);
            bridge = new Thread(() -> loop(bridgeIn, r -> producer.send(new ProducerRecord<>(B, r.key(), r.value()))), "floor-bridge");
            receiver = new Thread(() -> loop(sink, r -> {
                Long t = sent.remove(r.key());
                if (t != null) {
                    samples.add(System.nanoTime() - t);
                }
            }), "floor-sink");
            bridge.start();
            receiver.start();
            long[] n = {0};
            pinger.scheduleAtFixedRate(() -> {
                String key = Long.toString(n[0]++);
                sent.put(key, System.nanoTime());
                producer.send(new ProducerRecord<>(A, key, new byte[200]));
            }, 100, 20, TimeUnit.MILLISECONDS);
        }

        private static KafkaConsumer<String, byte[]> assigned(String bootstrap, String topic) {
            Properties p = KafkaClients.consumer(bootstrap);
            KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p);
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToEnd(List.of(tp));
            c.position(tp);
            return c;
        }

        private void loop(KafkaConsumer<String, byte[]> c, java.util.function.Consumer<ConsumerRecord<String, byte[]>> handle) {
            try {
                while (running) {
                    c.poll(Duration.ofSeconds(1)).forEach(handle);
                }
            } catch (WakeupException e) {
                // closing
            }
        }

        void reset() {
            samples.clear();
        }

        double[] millis() {
            synchronized (samples) {
                return samples.stream().mapToDouble(n -> n / 1e6).sorted().toArray();
            }
        }

        @Override
        public void close() throws Exception {
            running = false;
            pinger.shutdownNow();
            bridgeIn.wakeup();
            sink.wakeup();
            bridge.join(5000);
            receiver.join(5000);
            bridgeIn.close();
            sink.close();
            producer.close();
        }
    }
}
