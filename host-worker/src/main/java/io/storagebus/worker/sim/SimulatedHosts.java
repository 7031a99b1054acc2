package io.storagebus.worker.sim;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.ConsumerLoop;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.schema.WatermarkReason;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.thin.ExtendPolicy;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Many lightweight hosts in one process, for load: each simulated volume is written at a fixed
 * rate; when its writes reach the threshold a real host would arm, a {@link VolumeWatermark} goes
 * to the pool's SPM exactly as a worker sends it, and the {@link RefreshVolume} the SPM sends to
 * the host's own command topic is applied as a real host would (new allocation, next threshold).
 * A volume whose writes reach the end of its allocation before the answer counts as a paused
 * guest until the answer comes. Round trips (report sent to answer received) are recorded.
 */
public final class SimulatedHosts implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SimulatedHosts.class);
    private static final MessageCodec CODEC = MessageCodec.standard();

    /** A volume a simulated host writes to. */
    public record Volume(String volumeId, DomainRef domain, long allocation) {
    }

    /** One simulated volume's state, touched only on the scheduler thread. */
    private static final class Sim {
        final Volume volume;
        final String hostId;
        long allocation;
        long basePosition;
        long baseNanos;
        boolean paused;
        long reportSentNanos;
        long pausedAtNanos;

        Sim(Volume volume, String hostId) {
            this.volume = volume;
            this.hostId = hostId;
            this.allocation = volume.allocation();
        }
    }

    private final String pool;
    private final String bootstrapServers;
    private final ExtendPolicy policy;
    private final long writeRate;
    private final Map<String, Sim> sims = new HashMap<>();
    private final List<String> hostIds = new ArrayList<>();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "sim-hosts");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, Boolean> answered = new ConcurrentHashMap<>();
    /** Per answer: when its report was sent (nanoseconds after {@link #start}) and its round trip. */
    private final List<long[]> roundTripNanos = Collections.synchronizedList(new ArrayList<>());
    private final AtomicLong pauses = new AtomicLong();
    private KafkaProducer<String, byte[]> producer;
    /**
     * Hosts whose commands one consumer reads. A real host reads its own topic; one consumer for
     * a thousand hosts' topics made the broker's work per answer grow with the number of hosts (a
     * fetch session and every waiting fetch cover all its partitions), a cost no real fleet has.
     */
    public static final int HOSTS_PER_CONSUMER = 25;

    /** Read the hosts' commands (the SPM's answers); a bench tool, so any failure ends one. */
    private final List<ConsumerLoop> commands = new ArrayList<>();
    private volatile boolean running;
    private volatile long startedNanos;
    private volatile long lastFirstAnswerNanos;

    /**
     * @param writeRate bytes per second each volume is written at
     * @param policy    the pool's extend policy: simulated hosts report where real ones would
     */
    public SimulatedHosts(String pool, String bootstrapServers, ExtendPolicy policy, long writeRate) {
        this.pool = pool;
        this.bootstrapServers = bootstrapServers;
        this.policy = policy;
        this.writeRate = writeRate;
    }

    /** Adds a host with its volumes; call before {@link #start}. */
    public SimulatedHosts host(String hostId, List<Volume> volumes) {
        hostIds.add(hostId);
        volumes.forEach(v -> sims.put(v.volumeId(), new Sim(v, hostId)));
        return this;
    }

    /** Starts writing, the volumes' first threshold crossings spread over the time their writes take to reach it. */
    public SimulatedHosts start() {
        return start(null);
    }

    /**
     * Creates the pool's and the hosts' topics and starts reading the hosts' commands, as workers
     * that are up before their guests write; {@link #start} does it if not done.
     */
    public synchronized SimulatedHosts connect() {
        if (!commands.isEmpty()) {
            return this;
        }
        List<NewTopic> topics = new ArrayList<>(Topics.poolTopics(pool, (short) 1));
        hostIds.forEach(h -> topics.add(Topics.hostCommandTopic(h, (short) 1)));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers))) {
            Topics.ensure(admin, topics);
        }
        Properties p = KafkaClients.producer(bootstrapServers);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "sim-hosts");
        producer = new KafkaProducer<>(p);
        for (int from = 0; from < hostIds.size(); from += HOSTS_PER_CONSUMER) {
            commands.add(commandReader(hostIds.subList(from, Math.min(hostIds.size(), from + HOSTS_PER_CONSUMER)), commands.size()));
        }
        running = true;
        commands.forEach(ConsumerLoop::start);
        return this;
    }

    /** A consumer of some hosts' command topics, from their ends. */
    private ConsumerLoop commandReader(List<String> hosts, int n) {
        Properties c = KafkaClients.consumer(bootstrapServers);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, "sim-hosts-" + n);
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c);
        List<TopicPartition> partitions = hosts.stream().map(h -> new TopicPartition(Topics.hostCommands(h), 0)).toList();
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position); // resolve "latest" now, before any report can be answered
        return new ConsumerLoop("sim-hosts-commands-" + n, closed -> ConsumerLoop.session(consumer, this::spmAnswered), e -> true, e -> {
            if (e != null) {
                LOG.error("simulated hosts: reading the SPM's answers failed: {}", e.toString());
            }
        });
    }

    /**
     * Reports each of {@code probes} (volumes outside the ones to measure; the i-th from the i-th
     * host, round the hosts) at its threshold and waits for the SPM's answers: after them the
     * SPM's term is settled, its reports' consumer assigned, the probes' domains known to it and
     * those hosts answered before, as in a pool that has been running, so what follows measures
     * a running SPM, not its start. Returns the slowest probe's round trip; the probes are then
     * forgotten (neither counted nor written to again).
     */
    public Duration warmUp(List<Volume> probes, Duration timeout) throws InterruptedException, TimeoutException {
        if (hostIds.isEmpty()) {
            throw new IllegalStateException("no host to report the probes from");
        }
        connect();
        long deadline = System.nanoTime() + timeout.toNanos();
        scheduler.execute(() -> {
            for (int i = 0; i < probes.size(); i++) {
                Sim s = new Sim(probes.get(i), hostIds.get(i % hostIds.size()));
                sims.put(s.volume.volumeId(), s);
                s.basePosition = policy.threshold(s.allocation, writeRate);
                s.baseNanos = System.nanoTime();
                report(s, WatermarkReason.THRESHOLD);
            }
        });
        // A tool's wait for the SPM to answer, bounded by its timeout.
        while (!probes.stream().allMatch(p -> answered.containsKey(p.volumeId()))) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("the SPM did not answer all " + probes.size() + " probe volumes within " + timeout);
            }
            TimeUnit.MILLISECONDS.sleep(10);
        }
        CompletableFuture<Void> forgotten = new CompletableFuture<>();
        scheduler.execute(() -> {
            probes.forEach(p -> sims.remove(p.volumeId()));
            forgotten.complete(null);
        });
        forgotten.join();
        double[] roundTrips = roundTripsMillis();
        probes.forEach(p -> answered.remove(p.volumeId()));
        resetStatistics();
        return Duration.ofNanos((long) (roundTrips[roundTrips.length - 1] * 1e6));
    }

    /**
     * Starts writing with every volume's first threshold crossed within {@code firstCrossings} of
     * now, evenly spread (a boot storm); null spreads them over the time the writes take to reach
     * the threshold from an empty volume.
     */
    public SimulatedHosts start(Duration firstCrossings) {
        connect();
        long now = System.nanoTime();
        startedNanos = now;
        // Spread the volumes' write positions so that reports do not all come at once.
        long i = 0;
        for (Sim s : sims.values()) {
            long threshold = policy.threshold(s.allocation, writeRate);
            double spread = firstCrossings == null ? threshold : Math.min(threshold, firstCrossings.toNanos() / 1e9 * writeRate);
            s.basePosition = threshold - (long) (spread * (i++ % sims.size()) / sims.size());
            s.baseNanos = now;
            scheduleThresholdCrossing(s);
        }
        return this;
    }

    private long position(Sim s, long now) {
        return s.paused ? s.allocation : s.basePosition + (long) ((now - s.baseNanos) / 1e9 * writeRate);
    }

    private long nanosUntil(Sim s, long offset, long now) {
        long ahead = offset - position(s, now);
        return ahead <= 0 ? 0 : (long) (ahead * 1e9 / writeRate);
    }

    private void scheduleThresholdCrossing(Sim s) {
        long now = System.nanoTime();
        long delay = nanosUntil(s, policy.threshold(s.allocation, writeRate), now);
        long allocation = s.allocation;
        scheduler.schedule(() -> {
            if (simulated(s) && s.allocation == allocation && s.reportSentNanos == 0) {
                report(s, WatermarkReason.THRESHOLD);
            }
        }, delay, TimeUnit.NANOSECONDS);
    }

    /** Still written to: the hosts run and the volume is not a probe since forgotten. */
    private boolean simulated(Sim s) {
        return running && sims.get(s.volume.volumeId()) == s;
    }

    private void report(Sim s, WatermarkReason reason) {
        long now = System.nanoTime();
        s.reportSentNanos = now;
        VolumeWatermark w = VolumeWatermark.newBuilder().setEnvelope(Envelopes.origin(pool, "host:" + s.hostId, "extend-" + s.volume.volumeId()))
                .setVolumeId(s.volume.volumeId()).setDomain(s.volume.domain()).setHostId(s.hostId).setAllocation(s.allocation)
                .setHighestOffset(Math.min(position(s, now), s.allocation)).setWriteRate(writeRate).setReason(reason).setPaused(s.paused).build();
        producer.send(Records.of(Topics.watermarks(pool), s.volume.volumeId(), w));
        long allocation = s.allocation;
        // The guest fills the allocation if the answer is late: that is a pause.
        scheduler.schedule(() -> {
            if (simulated(s) && s.allocation == allocation && !s.paused) {
                s.basePosition = s.allocation;
                s.paused = true;
                s.pausedAtNanos = System.nanoTime();
                pauses.incrementAndGet();
            }
        }, nanosUntil(s, s.allocation, now), TimeUnit.NANOSECONDS);
    }

    private void spmAnswered(ConsumerRecords<String, byte[]> records) {
        for (ConsumerRecord<String, byte[]> r : records) {
            long received = System.nanoTime();
            try {
                if (CODEC.decode(r.value()) instanceof RefreshVolume refresh) {
                    scheduler.execute(() -> refreshed(refresh, received));
                }
            } catch (UndecodableRecordException e) {
                LOG.warn("simulated hosts: undecodable command on {}: {}", r.topic(), e.getMessage());
            }
        }
    }

    private void refreshed(RefreshVolume refresh, long receivedNanos) {
        Sim s = sims.get(refresh.getVolumeId());
        if (s == null || refresh.getAllocation() < s.allocation) {
            return;
        }
        if (s.reportSentNanos != 0) {
            roundTripNanos.add(new long[] {s.reportSentNanos - startedNanos, receivedNanos - s.reportSentNanos});
            if (answered.put(s.volume.volumeId(), true) == null) {
                lastFirstAnswerNanos = receivedNanos;
            }
        }
        long now = System.nanoTime();
        if (s.paused) {
            s.paused = false;
            s.basePosition = s.allocation;
            s.baseNanos = now;
        } else {
            s.basePosition = position(s, now);
            s.baseNanos = now;
        }
        s.allocation = refresh.getAllocation();
        s.reportSentNanos = 0;
        if (!refresh.getFullyAllocated()) {
            scheduleThresholdCrossing(s);
        }
    }

    /** Every volume's writes jump to its threshold now, and each is reported: one extend per volume. */
    public void crossAllThresholds() {
        scheduler.execute(() -> {
            long now = System.nanoTime();
            for (Sim s : sims.values()) {
                s.basePosition = Math.max(position(s, now), policy.threshold(s.allocation, writeRate));
                s.baseNanos = now;
                report(s, WatermarkReason.THRESHOLD);
            }
        });
    }

    /** Volumes whose latest report got an answer. */
    public int answeredVolumes() {
        return answered.size();
    }

    /** Seconds from {@link #start} to the first answer of the last volume answered so far. */
    public double secondsToLastFirstAnswer() {
        return (lastFirstAnswerNanos - startedNanos) / 1e9;
    }

    public long pauses() {
        return pauses.get();
    }

    /** Round trips recorded so far, in milliseconds, sorted. */
    public double[] roundTripsMillis() {
        synchronized (roundTripNanos) {
            return roundTripNanos.stream().mapToDouble(r -> r[1] / 1e6).sorted().toArray();
        }
    }

    /** Round trips recorded so far, in milliseconds, sorted, by the second after {@link #start} their reports were sent in. */
    public SortedMap<Long, double[]> roundTripsBySecond() {
        synchronized (roundTripNanos) {
            return roundTripNanos.stream().collect(Collectors.groupingBy(r -> TimeUnit.NANOSECONDS.toSeconds(r[0]),
                    TreeMap::new, Collectors.collectingAndThen(Collectors.toList(),
                            rs -> rs.stream().mapToDouble(r -> r[1] / 1e6).sorted().toArray())));
        }
    }

    /** Forgets the round trips so far (after a warm-up). */
    public void resetStatistics() {
        roundTripNanos.clear();
        pauses.set(0);
    }

    @Override
    public void close() {
        running = false;
        scheduler.shutdownNow();
        commands.forEach(c -> c.close(Duration.ofSeconds(5)));
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
        }
    }
}
