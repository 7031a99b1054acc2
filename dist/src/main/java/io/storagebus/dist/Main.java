package io.storagebus.dist;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.storagebus.manager.Manager;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.worker.HostWorker;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.thin.ExtendPolicy;
import io.storagebus.driver.Sizes;

/** {@code bin/storagebus}: one launcher for the manager, a host worker, and the all-in-one dev mode. */
public final class Main {
    private static final String USAGE = """
            usage: storagebus <command> [options]

            commands:
              dev      run ZooKeeper, Kafka, the manager and two host workers in this process
                       --data-dir DIR   where all data is kept (default ./storagebus-data)
                       --http-port N    REST API port (default 8080)
                       --workers N      number of host workers (default 2)
              manager  run the manager
                       --bootstrap-servers HOST:PORT --zookeeper HOST:PORT [--http-port N] [--http-host ADDR]
                       [--manager-id ID] [--default-pool NAME]
              worker   run a host worker
                       --bootstrap-servers HOST:PORT --zookeeper HOST:PORT --host-id ID [--pool NAME]
                       [--zk-session-timeout-ms N]
                       [--extend-chunk-mb N]          thin volumes grow by at least this (default 2560)
                       [--extend-free-percent N]      report when less than N % of a chunk is free (default 20)
                       [--extend-chunk-seconds N]     a chunk holds N s of the observed write rate (default 5)
                       [--block-stats-interval-ms N]  fallback read of highest write offsets (default 2000)

            Every option can also be set as an environment variable: --http-port is STORAGEBUS_HTTP_PORT.
            """;

    private Main() {
    }

    public static void main(String[] argv) throws Exception {
        if (argv.length == 0 || Set.of("-h", "--help", "help").contains(argv[0])) {
            System.out.print(USAGE);
            System.exit(argv.length == 0 ? 2 : 0);
        }
        List<String> rest = Arrays.asList(argv).subList(1, argv.length);
        Map<String, String> env = System.getenv();
        try {
            switch (argv[0]) {
                case "dev" -> dev(new Args(rest, Set.of("data-dir", "http-port", "workers"), env));
                case "manager" -> manager(new Args(rest, Set.of("bootstrap-servers", "zookeeper", "http-port", "http-host",
                        "manager-id", "default-pool"), env));
                case "worker" -> worker(new Args(rest, Set.of("bootstrap-servers", "zookeeper", "host-id", "pool",
                        "zk-session-timeout-ms", "extend-chunk-mb", "extend-free-percent", "extend-chunk-seconds",
                        "block-stats-interval-ms"), env));
                default -> throw new Args.UsageException("unknown command '" + argv[0] + "'");
            }
        } catch (Args.UsageException | IllegalArgumentException e) {
            System.err.println("storagebus: " + e.getMessage());
            System.err.print(USAGE);
            System.exit(2);
        }
    }

    private static void dev(Args args) throws Exception {
        long started = System.nanoTime();
        Path dataDir = Path.of(args.get("data-dir", "storagebus-data"));
        DevStack stack = new DevStack(dataDir, args.intValue("http-port", 8080), args.intValue("workers", 2));
        runUntilStopped(stack::close, () -> {
            stack.start();
            String url = stack.manager().baseUrl();
            awaitHealthy(stack);
            System.out.printf("Kafka: %s  ZooKeeper: %s  data: %s  file domains can use: %s%n",
                    stack.bootstrapServers(), stack.zkConnect(), dataDir.toAbsolutePath(), stack.imagesDir());
            System.out.printf("(up in %.1f s; Ctrl-C stops; the REST API has no TLS or authentication in dev mode)%n",
                    (System.nanoTime() - started) / 1e9);
            System.out.println("StorageBus ready: " + url);
        });
    }

    private static void manager(Args args) throws Exception {
        ManagerConfig config = new ManagerConfig(args.get("manager-id", "manager-1"), args.required("bootstrap-servers"),
                args.required("zookeeper"), args.get("http-host", "0.0.0.0"), args.intValue("http-port", 8080), null,
                args.get("default-pool", "default"), (short) 1, 6000);
        Manager manager = new Manager(config);
        runUntilStopped(manager::close, manager::start);
    }

    private static void worker(Args args) throws Exception {
        WorkerConfig config = new WorkerConfig(args.required("host-id"), args.get("pool", "default"),
                args.required("bootstrap-servers"), args.required("zookeeper"),
                args.intValue("zk-session-timeout-ms", 6000), (short) 1,
                new ExtendPolicy(args.intValue("extend-chunk-mb", 2560) * Sizes.MIB, args.intValue("extend-free-percent", 20),
                        args.intValue("extend-chunk-seconds", 5)),
                Duration.ofMillis(args.intValue("block-stats-interval-ms", 2000)));
        HostWorker worker = new HostWorker(config);
        runUntilStopped(worker::close, worker::start);
    }

    interface Step {
        void run() throws Exception;
    }

    /** Starts, then blocks until SIGINT/SIGTERM, which stops everything cleanly. */
    private static void runUntilStopped(Runnable stop, Step start) throws Exception {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop.run();
            stopped.countDown();
        }, "shutdown"));
        try {
            start.run();
        } catch (Exception e) {
            System.err.println("storagebus: cannot start: " + e.getMessage());
            System.exit(1);
        }
        stopped.await();
    }

    /**
     * Waits for the manager to have an SPM for its pool (a ZooKeeper watch, no polling), then
     * confirms once that the health endpoint a user will call says UP.
     */
    private static void awaitHealthy(DevStack stack) throws Exception {
        stack.manager().defaultPoolReady().get(120, TimeUnit.SECONDS);
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(stack.manager().baseUrl() + "/api/v1/health"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("not healthy: " + response.body());
        }
    }
}
