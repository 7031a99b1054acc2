package io.storagebus.bench;

import static io.storagebus.bench.Figures.max;
import static io.storagebus.bench.Figures.option;
import static io.storagebus.bench.Figures.pct;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.manager.Manager;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.schema.DomainActivated;
import io.storagebus.schema.MaintenanceAborted;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.MaintenanceStarted;
import io.storagebus.schema.MaintenanceVote;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.SubscriberHeartbeat;
import io.storagebus.schema.VoteDecision;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * Maintenance decision latency with many subscribers: N registered subscribers (simulated in
 * this process with the records a real one sends) all consent the moment a request appears; the
 * figure is the time from the REST request to the decision event on the public stream, as a
 * subscriber sees it. Each round activates the domain again. The last line is JSON.
 */
public final class MaintenanceBenchmark {
    private MaintenanceBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int subscribers = Integer.parseInt(option(args, "--subscribers", "1000"));
        int rounds = Integer.parseInt(option(args, "--rounds", "30"));
        Path dir = Path.of(option(args, "--dir", Files.createTempDirectory("sb-bench-maintenance-").toString()));

        try (EmbeddedZooKeeper zk = new EmbeddedZooKeeper(dir.resolve("zk"), 0).start();
             EmbeddedKafka kafka = new EmbeddedKafka(dir.resolve("kafka"), 0).start();
             Manager manager = new Manager(ManagerConfig.of(kafka.bootstrapServers(), zk.connectString(), 0)).start();
             Voters voters = new Voters(kafka.bootstrapServers(), subscribers)) {
            Rest rest = new Rest(manager.baseUrl());
            String domainId = rest.post("/api/v1/domains", new JsonObject().put("name", "bench").put("driver", "file")
                    .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("domain")).toString()))).getString("id");
            long started = System.nanoTime();
            voters.register();
            rest.awaitAlive(subscribers);
            System.out.printf(Locale.ROOT, "%d subscribers registered and alive in %.1f s%n", subscribers, (System.nanoTime() - started) / 1e9);

            List<Double> latencies = new ArrayList<>();
            for (int round = 0; round < rounds; round++) {
                long t0 = System.nanoTime();
                String requestId = rest.postWhenAllowed("/api/v1/domains/" + domainId + "/maintenance",
                        new JsonObject().put("reason", "bench round " + round).put("deadlineSeconds", 60)).getString("requestId");
                SpecificRecord decision = voters.decision(requestId).get(60, TimeUnit.SECONDS);
                long t1 = voters.decidedAt(requestId);
                if (!(decision instanceof MaintenanceStarted)) {
                    throw new IllegalStateException("round " + round + " was not decided by consent: " + decision);
                }
                latencies.add((t1 - t0) / 1e6);
                CompletableFuture<Void> active = voters.activated(domainId);
                rest.postWhenAllowed("/api/v1/domains/" + domainId + "/activate", new JsonObject());
                active.get(60, TimeUnit.SECONDS);
            }
            double[] sorted = latencies.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            System.out.printf(Locale.ROOT, "request -> decision with %d subscribers voting at once, %d rounds: p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                    subscribers, rounds, pct(sorted, 50), pct(sorted, 99), max(sorted));
            System.out.printf(Locale.ROOT, "{\"subscribers\":%d,\"rounds\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}%n",
                    subscribers, rounds, pct(sorted, 50), pct(sorted, 99), max(sorted));
        }
    }

    /** N subscribers in one process: their heartbeats, their votes, and what they read. */
    private static final class Voters implements AutoCloseable {
        private final int count;
        private final KafkaProducer<String, byte[]> producer;
        private final KafkaConsumer<String, byte[]> events;
        private final MessageCodec codec = MessageCodec.standard();
        private final Map<String, CompletableFuture<SpecificRecord>> decisions = new ConcurrentHashMap<>();
        private final Map<String, Long> decidedAt = new ConcurrentHashMap<>();
        private final Map<String, CompletableFuture<Void>> activations = new ConcurrentHashMap<>();
        private final Thread reader;
        private volatile boolean running = true;

        Voters(String bootstrap, int count) {
            this.count = count;
            this.producer = new KafkaProducer<>(KafkaClients.producer(bootstrap));
            this.events = new KafkaConsumer<>(KafkaClients.consumer(bootstrap));
            List<TopicPartition> partitions = KafkaClients.partitionsOf(events, Topics.EVENTS);
            events.assign(partitions);
            events.seekToEnd(partitions);
            partitions.forEach(events::position);
            this.reader = new Thread(this::read, "bench-voters");
            this.reader.start();
        }

        static String id(int i) {
            return String.format("sim-subscriber-%04d", i);
        }

        /** One heartbeat each, with an interval long enough to outlast the run. */
        void register() {
            for (int i = 0; i < count; i++) {
                producer.send(Records.of(Topics.SUBSCRIBERS, id(i), SubscriberHeartbeat.newBuilder()
                        .setEnvelope(Envelopes.origin("*", "subscriber:" + id(i), id(i))).setSubscriberId(id(i))
                        .setDescription("simulated subscriber " + i).setSilence(SilencePolicy.VETO).setHeartbeatIntervalMs(3_600_000L).build()));
            }
            producer.flush();
        }

        CompletableFuture<SpecificRecord> decision(String requestId) {
            return decisions.computeIfAbsent(requestId, k -> new CompletableFuture<>());
        }

        long decidedAt(String requestId) {
            return decidedAt.get(requestId);
        }

        CompletableFuture<Void> activated(String domainId) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            activations.put(domainId, f);
            return f;
        }

        private void read() {
            try {
                while (running) {
                    for (ConsumerRecord<String, byte[]> r : events.poll(Duration.ofSeconds(1))) {
                        handle(r);
                    }
                }
            } catch (WakeupException e) {
                // closing
            }
        }

        private void handle(ConsumerRecord<String, byte[]> r) {
            SpecificRecord event;
            try {
                event = codec.decode(r.value());
            } catch (UndecodableRecordException e) {
                return;
            }
            if (event instanceof MaintenanceRequested request) {
                // Every subscriber answers at once, as a thousand services would.
                for (int i = 0; i < count; i++) {
                    producer.send(Records.of(Topics.MAINTENANCE, request.getRequestId(), MaintenanceVote.newBuilder()
                            .setEnvelope(Envelopes.causedBy(request.getEnvelope(), "subscriber:" + id(i), null))
                            .setRequestId(request.getRequestId()).setDomainId(request.getDomainId()).setSubscriberId(id(i))
                            .setDecision(VoteDecision.CONSENT).build()));
                }
            } else if (event instanceof MaintenanceStarted started) {
                decided(started.getRequestId(), event);
            } else if (event instanceof MaintenanceAborted aborted) {
                decided(aborted.getRequestId(), event);
            } else if (event instanceof DomainActivated activated) {
                CompletableFuture<Void> f = activations.remove(activated.getDomainId());
                if (f != null) {
                    f.complete(null);
                }
            }
        }

        private void decided(String requestId, SpecificRecord event) {
            decidedAt.put(requestId, System.nanoTime());
            decision(requestId).complete(event);
        }

        @Override
        public void close() throws Exception {
            running = false;
            events.wakeup();
            reader.join(5000);
            events.close();
            producer.close();
        }
    }

    /** The few REST calls the benchmark makes. */
    private record Rest(String baseUrl, HttpClient client) {
        Rest(String baseUrl) {
            this(baseUrl, HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build());
        }

        HttpResponse<String> send(String method, String path, JsonObject body) throws Exception {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path)).header("Content-Type", "application/json");
            request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.encode()));
            return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
        }

        JsonObject post(String path, JsonObject body) throws Exception {
            HttpResponse<String> r = send("POST", path, body);
            if (r.statusCode() / 100 != 2) {
                throw new IllegalStateException("POST " + path + ": " + r.statusCode() + " " + r.body());
            }
            return new JsonObject(r.body());
        }

        void awaitAlive(int subscribers) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (new io.vertx.core.json.JsonArray(send("GET", "/api/v1/subscribers", null).body()).size() < subscribers) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the manager did not see " + subscribers + " subscribers within 60 s");
                }
                TimeUnit.MILLISECONDS.sleep(50);
            }
        }

        /**
         * A domain's status follows the event that changed it by a moment (the manager reads it
         * back from its state topic): a request refused with 409 meanwhile is sent again.
         */
        JsonObject postWhenAllowed(String path, JsonObject body) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            HttpResponse<String> r;
            while ((r = send("POST", path, body)).statusCode() == 409) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("POST " + path + " still refused after 30 s: " + r.body());
                }
                TimeUnit.MILLISECONDS.sleep(5);
            }
            if (r.statusCode() / 100 != 2) {
                throw new IllegalStateException("POST " + path + ": " + r.statusCode() + " " + r.body());
            }
            return new JsonObject(r.body());
        }
    }
}
