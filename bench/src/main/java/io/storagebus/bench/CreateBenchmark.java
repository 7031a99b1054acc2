package io.storagebus.bench;

import static io.storagebus.bench.Figures.option;
import static io.storagebus.bench.Figures.pct;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Volume creates through the REST API of a running stack (by default the one {@code
 * storagebus-data/dev.env} describes), as a client fleet sends them: N requests in flight, or a
 * fixed rate offered. A volume is READY when its READY state is committed on the volume state
 * topic, which the benchmark reads from Kafka, so nothing polls the API. The pool is filled
 * between measurements, so each pool size is measured with the same requests. The last line is JSON.
 */
public final class CreateBenchmark {
    private static final Duration READY_WAIT = Duration.ofMinutes(5);

    private final HttpClientAgent http;
    private final String api;
    private final String token;
    private final String domainId;
    private final String run = Long.toString(System.currentTimeMillis(), 36);
    private final AtomicInteger sequence = new AtomicInteger();
    /** Send time by volume name, until its READY is seen. */
    private final Map<String, Sent> sent = new ConcurrentHashMap<>();
    private final ReadyWatcher ready;

    private CreateBenchmark(HttpClientAgent http, String api, String token, String domainId, ReadyWatcher ready) {
        this.http = http;
        this.api = api;
        this.token = token;
        this.domainId = domainId;
        this.ready = ready;
    }

    public static void main(String[] args) throws Exception {
        String url = option(args, "--url", System.getenv().getOrDefault("STORAGEBUS_URL", "http://127.0.0.1:8080"));
        String token = option(args, "--token", System.getenv("STORAGEBUS_TOKEN"));
        String bootstrap = option(args, "--bootstrap-servers", System.getenv("STORAGEBUS_KAFKA_BOOTSTRAP_SERVERS"));
        if (token == null || bootstrap == null) {
            System.err.println("bench create drives a running stack: start bin/storagebus dev, then . storagebus-data/dev.env "
                    + "(or pass --url, --token and --bootstrap-servers)");
            System.exit(2);
        }
        int inFlight = Integer.parseInt(option(args, "--in-flight", "64"));
        int perWindow = Integer.parseInt(option(args, "--creates", "10000"));
        int rate = Integer.parseInt(option(args, "--rate", "500"));
        int rateSeconds = Integer.parseInt(option(args, "--rate-seconds", "10"));
        List<Integer> poolSizes = Arrays.stream(option(args, "--pool-sizes", "0,10000,100000").split(",")).map(Integer::parseInt).toList();
        List<String> formats = List.of(option(args, "--formats", "raw,qcow2").split(","));
        Path dir = Path.of(option(args, "--dir", Files.createTempDirectory("sb-bench-create-").toString()));
        Files.createDirectories(dir);

        // A Netty client: the JDK's HttpClient took 80 % of a core at 300 requests/s, CPU the stack under test shares.
        Vertx vertx = Vertx.vertx();
        HttpClientAgent http = vertx.createHttpClient(new PoolOptions().setHttp1MaxSize(inFlight));
        try (ReadyWatcher ready = new ReadyWatcher(bootstrap)) {
            String api = url.replaceAll("/+$", "") + "/api/v1";
            String domain = createDomain(http, api, token, dir);
            CreateBenchmark bench = new CreateBenchmark(http, api, token, domain, ready);
            ready.start(bench.sent);
            System.out.printf(Locale.ROOT, "file domain %s in %s; %d in flight, windows of %d creates, %d/s offered for %d s%n",
                    domain, dir, inFlight, perWindow, rate, rateSeconds);
            List<String> json = new ArrayList<>();
            int made = 0;
            for (int size : poolSizes) {
                if (size > made) {
                    Window fill = bench.closedLoop("raw", size - made, inFlight);
                    made += fill.count;
                    System.out.printf(Locale.ROOT, "filled the domain to %d volumes at %.0f accepted/s%n", made, fill.acceptedPerSecond());
                }
                for (String format : formats) {
                    Window w = bench.closedLoop(format, perWindow, inFlight);
                    made += w.count;
                    json.add(w.print("pool " + size + ", " + format + ", " + inFlight + " in flight", size));
                }
                Window offered = bench.openLoop("raw", rate, rateSeconds);
                made += offered.count;
                json.add(offered.print("pool " + size + ", raw, " + rate + "/s offered", size));
            }
            System.out.println("[" + String.join(",", json) + "]");
        } finally {
            vertx.close().await();
        }
    }

    private static String createDomain(HttpClientAgent http, String api, String token, Path dir) {
        JsonObject body = new JsonObject().put("name", "bench-" + Long.toString(System.currentTimeMillis(), 36)).put("driver", "file")
                .put("properties", new JsonObject().put("path", dir.toString()));
        JsonObject answer = post(http, api + "/domains", token, body).join();
        if (!answer.containsKey("id")) {
            throw new IllegalStateException("cannot create the benchmark's domain: " + answer.encode());
        }
        return answer.getString("id");
    }

    private static CompletableFuture<JsonObject> post(HttpClientAgent http, String uri, String token, JsonObject body) {
        RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(uri).setTimeout(30_000)
                .putHeader("Authorization", "Bearer " + token).putHeader("Content-Type", "application/json");
        return http.request(request).compose(r -> r.send(body.toBuffer()))
                .compose(r -> r.body().map(b -> (b.length() == 0 ? new JsonObject() : b.toJsonObject()).put("httpStatus", r.statusCode())))
                .toCompletionStage().toCompletableFuture();
    }

    /** {@code count} creates with {@code inFlight} requests outstanding all the time. */
    private Window closedLoop(String format, int count, int inFlight) throws InterruptedException {
        Window w = new Window(format, count);
        Semaphore permits = new Semaphore(inFlight);
        for (int i = 0; i < count; i++) {
            permits.acquire();
            send(w, format, permits);
        }
        return w.finish();
    }

    /** {@code rate} creates a second for {@code seconds}, whatever the answers' latency. */
    private Window openLoop(String format, int rate, int seconds) throws InterruptedException {
        int count = rate * seconds;
        Window w = new Window(format, count);
        Semaphore permits = new Semaphore(Integer.MAX_VALUE);
        long start = System.nanoTime();
        long interval = TimeUnit.SECONDS.toNanos(1) / rate;
        for (int i = 0; i < count; i++) {
            long due = start + i * interval;
            long wait = due - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            permits.acquire();
            send(w, format, permits);
        }
        return w.finish();
    }

    private void send(Window w, String format, Semaphore permits) {
        String name = "b" + run + "-" + sequence.incrementAndGet();
        JsonObject body = new JsonObject().put("name", name).put("virtualSize", 1 << 20).put("format", format).put("allocation", "thin");
        long t0 = System.nanoTime();
        sent.put(name, new Sent(t0, System.currentTimeMillis()));
        ready.expect(name, w);
        post(http, api + "/domains/" + domainId + "/volumes", token, body).whenComplete((answer, error) -> {
            permits.release();
            int status = answer != null ? answer.getInteger("httpStatus") : -1;
            if (status == 202) {
                w.accepted(System.nanoTime() - t0);
            } else {
                sent.remove(name);
                w.failed(answer != null ? answer.encode() : error.toString());
            }
        });
    }

    /** The figures of one measurement: accept and READY latencies, and when the last of each came. */
    static final class Window {
        private final String format;
        private final int count;
        private final long start = System.nanoTime();
        private final long[] acceptNanos;
        private final long[] readyNanos;
        /** Where each READY's time went, in wall-clock ms: one row per {@link Stage}. */
        private final long[][] stageMillis;
        private final AtomicInteger accepted = new AtomicInteger();
        private final AtomicInteger readied = new AtomicInteger();
        private final AtomicInteger failed = new AtomicInteger();
        private final AtomicLong lastAccepted = new AtomicLong();
        private final AtomicLong lastReady = new AtomicLong();
        private volatile String firstFailure;

        Window(String format, int count) {
            this.format = format;
            this.count = count;
            this.acceptNanos = new long[count];
            this.readyNanos = new long[count];
            this.stageMillis = new long[Stage.values().length][count];
        }

        void accepted(long nanos) {
            acceptNanos[accepted.getAndIncrement()] = nanos;
            lastAccepted.accumulateAndGet(System.nanoTime(), Math::max);
        }

        void ready(long nanos, long[] stages) {
            int i = readied.getAndIncrement();
            readyNanos[i] = nanos;
            for (Stage stage : Stage.values()) {
                stageMillis[stage.ordinal()][i] = stages[stage.ordinal()];
            }
            lastReady.accumulateAndGet(System.nanoTime(), Math::max);
        }

        void failed(String why) {
            if (failed.getAndIncrement() == 0) {
                firstFailure = why;
            }
        }

        /** Waits until every accepted create is READY (or failed). */
        Window finish() throws InterruptedException {
            long deadline = System.nanoTime() + READY_WAIT.toNanos();
            synchronized (this) {
                while (readied.get() + failed.get() < count && System.nanoTime() < deadline) {
                    wait(100);
                }
            }
            return this;
        }

        double acceptedPerSecond() {
            return accepted.get() / ((lastAccepted.get() - start) / 1e9);
        }

        String print(String label, int poolSize) {
            double[] acc = millis(acceptNanos, accepted.get());
            double[] rdy = millis(readyNanos, readied.get());
            double readyPerSecond = readied.get() / ((lastReady.get() - start) / 1e9);
            System.out.printf(Locale.ROOT, "%s: %d accepted (%.0f/s), %d READY (%.0f/s), %d failed; "
                            + "to 202 p50 %.1f ms p99 %.1f ms; to READY p50 %.1f ms p99 %.1f ms%n",
                    label, acc.length, acceptedPerSecond(), rdy.length, readyPerSecond, failed.get(),
                    pct(acc, 50), pct(acc, 99), pct(rdy, 50), pct(rdy, 99));
            StringBuilder stages = new StringBuilder("  where the time to READY went, p50 / p99 ms:");
            for (Stage stage : Stage.values()) {
                long[] row = stageMillis[stage.ordinal()];
                double[] ms = new double[rdy.length];
                for (int i = 0; i < ms.length; i++) {
                    ms[i] = row[i];
                }
                Arrays.sort(ms);
                stages.append(String.format(Locale.ROOT, " %s %.0f / %.0f;", stage.label, pct(ms, 50), pct(ms, 99)));
            }
            System.out.println(stages);
            if (firstFailure != null) {
                System.out.println("  first failure: " + firstFailure);
            }
            return String.format(Locale.ROOT, "{\"pool\":%d,\"format\":\"%s\",\"label\":\"%s\",\"accepted\":%d,\"accepted_per_s\":%.0f,"
                            + "\"ready\":%d,\"ready_per_s\":%.0f,\"failed\":%d,\"accept_p50_ms\":%.2f,\"accept_p99_ms\":%.2f,"
                            + "\"ready_p50_ms\":%.2f,\"ready_p99_ms\":%.2f}",
                    poolSize, format, label, acc.length, acceptedPerSecond(), rdy.length, readyPerSecond, failed.get(),
                    pct(acc, 50), pct(acc, 99), pct(rdy, 50), pct(rdy, 99));
        }

        private static double[] millis(long[] nanos, int n) {
            double[] ms = new double[n];
            for (int i = 0; i < n; i++) {
                ms[i] = nanos[i] / 1e6;
            }
            Arrays.sort(ms);
            return ms;
        }
    }

    /** When a create was sent, by the clock of the stages (ms) and of the latencies (ns). */
    record Sent(long nanos, long wallMillis) {
    }

    /**
     * The legs of a create's way to READY, told apart by the two volume states it puts on the
     * state topic: the manager's CREATING (in the transaction that answers 202) and the SPM's
     * READY, each with its producer's timestamp and the time the benchmark read it (wall clock, ms).
     */
    enum Stage {
        MANAGER("manager until its send"),
        MANAGER_COMMIT("manager's send until readable"),
        SPM("until the SPM's READY send"),
        SPM_COMMIT("SPM's send until readable");

        final String label;

        Stage(String label) {
            this.label = label;
        }
    }

    /** Reads the volume state topic from its end and times each expected name's READY. */
    static final class ReadyWatcher implements AutoCloseable {
        private final KafkaConsumer<String, byte[]> consumer;
        private final Map<String, Window> windows = new ConcurrentHashMap<>();
        /** By name: the CREATING state's producer timestamp and when it was read. */
        private final Map<String, long[]> creating = new ConcurrentHashMap<>();
        private final MessageCodec codec = MessageCodec.standard();
        private Thread thread;

        ReadyWatcher(String bootstrap) {
            consumer = new KafkaConsumer<>(KafkaClients.consumer(bootstrap));
            List<TopicPartition> partitions = KafkaClients.partitionsOf(consumer, Topics.VOLUME_STATE);
            consumer.assign(partitions);
            consumer.seekToEnd(partitions);
            partitions.forEach(consumer::position); // fixes the start before the first create
        }

        void expect(String name, Window w) {
            windows.put(name, w);
        }

        void start(Map<String, Sent> sent) {
            thread = new Thread(() -> {
                try {
                    while (true) {
                        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                            if (r.value() != null && codec.decode(r.value()) instanceof VolumeState v) {
                                seen(v, r.timestamp(), sent);
                            }
                        }
                    }
                } catch (WakeupException e) {
                    // closing
                } catch (Exception e) {
                    e.printStackTrace();
                }
            }, "ready-watcher");
            thread.setDaemon(true);
            thread.start();
        }

        private void seen(VolumeState v, long producedMillis, Map<String, Sent> sent) {
            String name = v.getName();
            long readMillis = System.currentTimeMillis();
            if (v.getStatus() == VolumeStatus.CREATING) {
                if (windows.containsKey(name)) { // only this run's creates: others would stay in the map
                    creating.put(name, new long[] {producedMillis, readMillis});
                }
                return;
            }
            boolean done = v.getStatus() == VolumeStatus.READY;
            if (!done && v.getStatus() != VolumeStatus.FAILED) {
                return;
            }
            Sent t0 = sent.remove(name);
            Window w = windows.remove(name);
            long[] created = creating.remove(name);
            if (t0 == null || w == null) {
                return;
            }
            if (done) {
                long[] stages = new long[Stage.values().length];
                if (created != null) {
                    stages[Stage.MANAGER.ordinal()] = created[0] - t0.wallMillis();
                    stages[Stage.MANAGER_COMMIT.ordinal()] = created[1] - created[0];
                    stages[Stage.SPM.ordinal()] = producedMillis - created[1];
                }
                stages[Stage.SPM_COMMIT.ordinal()] = readMillis - producedMillis;
                w.ready(System.nanoTime() - t0.nanos(), stages);
            } else {
                w.failed("volume " + name + " FAILED");
            }
            synchronized (w) {
                w.notifyAll();
            }
        }

        @Override
        public void close() throws InterruptedException {
            consumer.wakeup();
            if (thread != null) {
                thread.join(5000);
            }
            consumer.close();
        }
    }
}
