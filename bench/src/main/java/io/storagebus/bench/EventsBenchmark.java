package io.storagebus.bench;

import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeFormat;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * {@code GET /api/v1/events} with many clients: {@code --clients N} (1,000) follow the stream,
 * one more connects and never reads, then {@code --events M} (2,000) VolumeCreated events are
 * published to Kafka as fast as it takes them. Prints how long until every reading client had
 * every event (events delivered per second over all clients), how long each took (percentiles),
 * what a connected client costs the heap (server and client side together: both are in this
 * process), and whether the stalled client held anyone up.
 */
final class EventsBenchmark {
    private EventsBenchmark() {
    }

    /** One reading client: counts the events (blocks that start with "id:") in what arrives. */
    private static final class Reader {
        Reader(CountDownLatch complete) {
            this.complete = complete;
        }

        final AtomicLong events = new AtomicLong();
        final CountDownLatch complete;
        volatile long doneNanos;
        private boolean atBlockStart = true;
        private boolean inEvent;
        private boolean lastWasNewline;

        void take(byte[] bytes, long expected) {
            for (byte b : bytes) {
                if (atBlockStart) {
                    inEvent = b == 'i';
                    atBlockStart = false;
                }
                if (b == '\n') {
                    if (lastWasNewline) {
                        if (inEvent && events.incrementAndGet() == expected) {
                            doneNanos = System.nanoTime();
                            complete.countDown();
                        }
                        atBlockStart = true;
                    }
                    lastWasNewline = true;
                } else {
                    lastWasNewline = false;
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int clients = Integer.parseInt(Figures.option(args, "--clients", "1000"));
        int events = Integer.parseInt(Figures.option(args, "--events", "2000"));
        Path dir = Files.createTempDirectory(Path.of(Figures.option(args, "--dir", System.getProperty("java.io.tmpdir"))), "sb-bench-events-");
        Vertx vertx = Vertx.vertx();
        try (BenchStack stack = BenchStack.start(dir, "bench-host", c -> c)) {
            URI base = URI.create(stack.rest.baseUrl());
            long heapBefore = heapAfterGc();
            HttpClient http = vertx.createHttpClient(new HttpClientOptions().setDefaultHost(base.getHost()).setDefaultPort(base.getPort()),
                    new PoolOptions().setHttp1MaxSize(clients + 10));
            List<Reader> readers = new ArrayList<>();
            CountDownLatch complete = new CountDownLatch(clients);
            for (int i = 0; i < clients; i++) {
                Reader reader = new Reader(complete);
                readers.add(reader);
                http.request(HttpMethod.GET, "/api/v1/events?type=VolumeCreated").compose(r -> r.send())
                        .onSuccess(response -> response.handler(buffer -> reader.take(buffer.getBytes(), events)))
                        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            try (Socket stalled = new Socket()) {
                stalled.setReceiveBufferSize(4096);
                stalled.connect(new InetSocketAddress(base.getHost(), base.getPort()));
                stalled.getOutputStream().write(("GET /api/v1/events HTTP/1.1\r\nHost: " + base.getHost() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                long connected = Math.round(gauge(stack, "storagebus_event_stream_clients"));
                long heapConnected = heapAfterGc();
                System.out.printf("%d clients connected (the manager counts %d, the stalled one included); heap %d MiB before, %d MiB after: "
                        + "%.1f KiB per client, server and client side together%n", clients, connected, heapBefore >> 20, heapConnected >> 20,
                        (heapConnected - heapBefore) / 1024.0 / (clients + 1));

                String uri = "file:///srv/images/" + "x".repeat(64);
                long started = System.nanoTime();
                try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(KafkaClients.producer(stack.bootstrapServers()))) {
                    for (int i = 0; i < events; i++) {
                        String id = "bench-" + i;
                        producer.send(new ProducerRecord<>(Topics.EVENTS, id, MessageCodec.standard().encode(VolumeCreated.newBuilder()
                                .setEnvelope(Envelopes.origin("default", "host:bench", id)).setTaskId(id).setVolumeId(id).setDomainId("bench")
                                .setName("disk-" + i).setVirtualSize(10L << 30).setFormat(VolumeFormat.QCOW2).setAllocation(Allocation.THIN)
                                .setUri(uri).setHostId("bench-host").build())));
                    }
                }
                long published = System.nanoTime();
                complete.await(10, TimeUnit.MINUTES);
                long done = readers.stream().filter(r -> r.doneNanos != 0).count();
                double[] seconds = readers.stream().filter(r -> r.doneNanos != 0).mapToDouble(r -> (r.doneNanos - started) / 1e9).sorted().toArray();
                double all = Figures.max(seconds);
                long delivered = readers.stream().mapToLong(r -> r.events.get()).sum();
                long sample = readers.get(0).events.get();
                String size = "about " + (MessageCodec.standard().encode(VolumeCreated.newBuilder()
                        .setEnvelope(Envelopes.origin("default", "host:bench", "bench-0")).setTaskId("bench-0").setVolumeId("bench-0")
                        .setDomainId("bench").setName("disk-0").setVirtualSize(10L << 30).setFormat(VolumeFormat.QCOW2)
                        .setAllocation(Allocation.THIN).setUri(uri).setHostId("bench-host").build()).length) + " bytes of Avro each";
                System.out.printf("%d events (%s) published in %.2f s; %d of %d clients had all of them (client 0: %d)%n", events, size,
                        (published - started) / 1e9, done, clients, sample);
                System.out.printf("every client had every event after %.2f s: %.0f events delivered per second over all clients; "
                        + "per client p50 %.2f s, p99 %.2f s%n", all, delivered / all, Figures.pct(seconds, 50), Figures.pct(seconds, 99));
                System.out.printf("the stalled client: still connected (the ring of %d events had not passed it), drops so far %.0f%n",
                        16_384, gauge(stack, "storagebus_event_stream_drops_total"));
                System.out.println(new JsonObject().put("clients", clients).put("events", events).put("all_delivered_s", round(all))
                        .put("deliveries_per_s", Math.round(delivered / all)).put("p50_s", round(Figures.pct(seconds, 50)))
                        .put("p99_s", round(Figures.pct(seconds, 99))).put("clients_complete", done)
                        .put("heap_kib_per_client", round((heapConnected - heapBefore) / 1024.0 / (clients + 1))).encode());
            }
            http.close();
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** A series' value (summed over its labels) from the manager's /metrics. */
    private static double gauge(BenchStack stack, String name) throws Exception {
        String text = stack.rest.client().send(java.net.http.HttpRequest.newBuilder(URI.create(stack.rest.baseUrl() + "/metrics")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        return Arrays.stream(text.split("\n")).filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }
}
