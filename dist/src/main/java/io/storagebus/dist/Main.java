package io.storagebus.dist;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.CommandVerifier;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.SecretFile;
import io.storagebus.dist.cli.Cli;
import io.storagebus.dist.config.ConfigException;
import io.storagebus.dist.config.Configuration;
import io.storagebus.dist.config.Setting.Role;
import io.storagebus.manager.Manager;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.storagebus.leases.ZooKeeperAccess;
import io.storagebus.leases.ZooKeeperAuth;
import io.storagebus.leases.ZooKeeperTls;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.manager.security.TlsKeyStore;
import io.storagebus.worker.HostWorker;
import io.storagebus.worker.IssuerPolicy;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.transfer.TransferEndpoint;
import io.storagebus.worker.watchdog.LeaseWatchdog;
import io.storagebus.worker.thin.ExtendPolicy;
import io.storagebus.worker.thin.TimeToFull;
import io.storagebus.driver.Sizes;
import org.slf4j.LoggerFactory;

/** {@code bin/storagebus}: one launcher for the manager, a host worker, and the all-in-one dev mode. */
public final class Main {
    private static final String USAGE = """
            usage: storagebus <command> [options]

            services:
              dev       ZooKeeper, Kafka, the manager and host workers in this process, for trying it out
              manager   the manager (REST API; one active, others standby)
              worker    a host worker (one per hypervisor host)
              watchdog  --dir DIR [--session-timeout-ms N]: the host's lease watchdog, its own process beside the
                        worker (whose worker.watchdog-dir is DIR): stops guests whose lease renewal is overdue
              config    check FILE | show (manager|worker) [--config FILE]: validate or print a configuration
              zookeeper, kafka  --data-dir DIR --port N: a single ZooKeeper or KRaft Kafka node in its own
                        process, for a multi-process topology on one machine (not for production)

            operations (talk to a manager; --url or $STORAGEBUS_URL, default http://127.0.0.1:8080):
              domains, drivers, volumes, trash, snapshots, backups, tasks, hosts, spm, maintenance, subscribers,
              tokens, health, events tail, completion

            Services read --config FILE (one "key = value" a line), then $STORAGEBUS_* variables, then
            --key value options, each overriding the one before; every key is in docs/CONFIGURATION.md.
            `storagebus <command> --help` tells more about each command.
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
        if (Set.of("dev", "manager", "worker").contains(argv[0]) && rest.contains("--help")) {
            System.out.print(ServiceHelp.of(Role.valueOf(argv[0].toUpperCase(Locale.ROOT))));
            return;
        }
        try {
            switch (argv[0]) {
                case "dev" -> dev(Configuration.load(Role.DEV, rest, env));
                case "manager" -> manager(Configuration.load(Role.MANAGER, rest, env));
                case "worker" -> worker(Configuration.load(Role.WORKER, rest, env));
                case "config" -> System.exit(ConfigCommand.run(rest, env, System.out, System.err));
                case "zookeeper", "kafka" -> standalone(argv[0], rest);
                case "watchdog" -> watchdog(rest);
                default -> System.exit(Cli.run(argv, env, System.out, System.err));
            }
        } catch (ConfigException e) {
            System.err.println("storagebus " + argv[0] + ": the configuration cannot be used:");
            e.problems().forEach(p -> System.err.println("  " + p));
            System.exit(2);
        } catch (IllegalArgumentException e) {
            System.err.println("storagebus " + argv[0] + ": " + e.getMessage());
            System.exit(2);
        }
    }

    private static void dev(Configuration config) throws Exception {
        Logs.configure(config);
        long started = System.nanoTime();
        Path dataDir = Path.of(config.string("dev.data-dir"));
        DevStack stack = new DevStack(dataDir, config.integer("dev.http-port"), config.integer("dev.workers"));
        runUntilStopped(stack::close, () -> {
            stack.start();
            String url = stack.manager().baseUrl();
            awaitHealthy(stack);
            System.out.printf("Kafka: %s  ZooKeeper: %s  data: %s  file domains can use: %s%n",
                    stack.bootstrapServers(), stack.zkConnect(), dataDir.toAbsolutePath(), stack.imagesDir());
            System.out.printf("(up in %.1f s; Ctrl-C or SIGTERM stops it cleanly; dev mode: no TLS on the REST API, Kafka and ZooKeeper, "
                    + "and no Kafka or ZooKeeper authentication, and commands are not signed)%n", (System.nanoTime() - started) / 1e9);
            System.out.println("admin token (new at each start): export STORAGEBUS_TOKEN=" + stack.adminToken());
            System.out.println("in another shell, for curl and the CLI: . " + stack.environmentFile());
            System.out.println("StorageBus ready: " + url);
        });
    }

    private static void manager(Configuration config) throws Exception {
        Logs.configure(config);
        Manager manager = new Manager(new ManagerConfig(config.string("manager.id"),
                kafka(config, "kafka.sasl-username", "kafka.sasl-password-file", "kafka.ssl-keystore-file", "kafka.ssl-keystore-password-file"),
                zooKeeper(config), config.string("manager.http-host"), config.integer("manager.http-port"),
                config.string("manager.advertised-url"), config.string("manager.default-pool"), (short) config.integer("topics.replication"),
                "none".equals(config.string("manager.api-auth")) ? null : Path.of(config.string("manager.api-tokens-file")),
                "off".equals(config.string("manager.tls")) ? null : TlsKeyStore.of(Path.of(config.string("manager.tls-keystore-file")),
                        Path.of(config.string("manager.tls-keystore-password-file"))),
                "off".equals(config.string("commands.signatures")) ? null
                        : CommandSigner.fromPem(Path.of(config.string("commands.signing-key-file"))), List.of(),
                Duration.ofMillis(config.integer("manager.storage-check-timeout-ms")),
                Duration.ofSeconds(config.integer("manager.task-retention-seconds")),
                Duration.ofSeconds(config.integer("manager.trash-retention-seconds"))));
        runUntilStopped(manager::close, manager::start);
    }

    /** The ensemble, the session timeout, the digest identity and TLS of the zookeeper.* keys. */
    private static ZooKeeperAccess zooKeeper(Configuration config) throws java.io.IOException {
        return new ZooKeeperAccess(config.string("zookeeper.connect"), config.integer("zookeeper.session-timeout-ms"),
                zooKeeperAuth(config), zooKeeperTls(config));
    }

    /** The digest identity for ZooKeeper, when one is configured; its password comes from a file of its own. */
    private static ZooKeeperAuth zooKeeperAuth(Configuration config) throws java.io.IOException {
        String user = config.string("zookeeper.digest-user");
        return user == null ? null : ZooKeeperAuth.fromFile(user, Path.of(config.string("zookeeper.digest-password-file")));
    }

    /** TLS to ZooKeeper unless it is turned off, which is said at every start. */
    private static ZooKeeperTls zooKeeperTls(Configuration config) throws java.io.IOException {
        if ("off".equals(config.string("zookeeper.tls"))) {
            LoggerFactory.getLogger(Main.class).warn("ZooKeeper over plain TCP (zookeeper.tls = off): the digest password, leases and "
                    + "elections cross the network in the clear; never in production (docs/SECURITY.md)");
            return null;
        }
        String ca = config.string("zookeeper.ssl-ca-file");
        String keystore = config.string("zookeeper.ssl-keystore-file");
        return new ZooKeeperTls(ca == null ? null : Path.of(ca), keystore == null ? null : Path.of(keystore),
                keystore == null ? null : SecretFile.read(Path.of(config.string("zookeeper.ssl-keystore-password-file"))));
    }

    /**
     * The identity these keys name ({@code kafka.*} for the process, {@code worker.spm-*} for a
     * pool's SPM), over the protocol and CAs of {@code kafka.*}. A connection that is not
     * encrypted or not authenticated is allowed, since the configuration asked for it, and said.
     */
    private static KafkaConnection kafka(Configuration config, String saslUser, String saslPasswordFile, String keystore,
                                         String keystorePasswordFile) throws java.io.IOException {
        String protocol = config.string("kafka.security-protocol");
        KafkaConnection kafka = KafkaConnection.of(config.string("kafka.bootstrap-servers"), protocol);
        if (protocol.startsWith("SASL")) {
            kafka = kafka.withSasl(config.string("kafka.sasl-mechanism"), config.string(saslUser),
                    SecretFile.read(Path.of(config.string(saslPasswordFile))));
        }
        if (config.string("kafka.ssl-ca-file") != null) {
            kafka = kafka.withTrustedCas(Path.of(config.string("kafka.ssl-ca-file")));
        }
        if (config.string(keystore) != null) {
            kafka = kafka.withKeyStore(Path.of(config.string(keystore)), SecretFile.read(Path.of(config.string(keystorePasswordFile))));
        }
        if (!kafka.encrypted() || !kafka.authenticated()) {
            LoggerFactory.getLogger(Main.class).warn("Kafka connection {} is {}: anyone on the network can read or forge commands; "
                    + "never in production (docs/SECURITY.md)", kafka, kafka.encrypted() ? "not authenticated" : "not encrypted");
        }
        return kafka;
    }

    /** The pool's SPM identity where worker.spm-* name one; the host's own identity otherwise. */
    private static KafkaConnection spmKafka(Configuration config, KafkaConnection host) throws java.io.IOException {
        boolean sasl = config.string("worker.spm-sasl-username") != null;
        boolean certificate = config.string("worker.spm-ssl-keystore-file") != null;
        if (!sasl && !certificate) {
            return host;
        }
        return kafka(config, sasl ? "worker.spm-sasl-username" : "kafka.sasl-username",
                sasl ? "worker.spm-sasl-password-file" : "kafka.sasl-password-file",
                certificate ? "worker.spm-ssl-keystore-file" : "kafka.ssl-keystore-file",
                certificate ? "worker.spm-ssl-keystore-password-file" : "kafka.ssl-keystore-password-file");
    }

    private static void worker(Configuration config) throws Exception {
        Logs.configure(config);
        KafkaConnection kafka = kafka(config, "kafka.sasl-username", "kafka.sasl-password-file", "kafka.ssl-keystore-file",
                "kafka.ssl-keystore-password-file");
        WorkerConfig workerConfig = new WorkerConfig(config.string("worker.host-id"), config.string("worker.pool"),
                kafka, spmKafka(config, kafka), zooKeeper(config), (short) config.integer("topics.replication"),
                new ExtendPolicy(config.integer("extend.chunk-mb") * Sizes.MIB, config.integer("extend.free-percent"),
                        config.integer("extend.chunk-seconds")),
                Duration.ofMillis(config.integer("worker.block-stats-interval-ms")),
                "off".equals(config.string("commands.signatures")) ? IssuerPolicy.unsigned()
                        : IssuerPolicy.signedBy(CommandVerifier.fromPem(Path.of(config.string("commands.trusted-keys-file")))),
                Path.of(config.string("worker.qmp-dir")),
                new TimeToFull(Duration.ofMinutes(config.integer("extend.time-to-full-warning-minutes")),
                        Duration.ofMinutes(config.integer("extend.time-to-full-critical-minutes"))),
                config.string("worker.watchdog-dir") == null ? null : Path.of(config.string("worker.watchdog-dir")),
                new TransferEndpoint(config.string("worker.transfer-host"), config.integer("worker.transfer-port"),
                        config.string("worker.transfer-advertised-host") != null ? config.string("worker.transfer-advertised-host")
                                : java.net.InetAddress.getLocalHost().getHostName(),
                        Path.of(config.string("worker.transfer-dir"))));
        WorkerService service = new WorkerService(workerConfig, config.string("worker.http-host"), config.integer("worker.http-port"));
        runUntilStopped(service::close, service::start);
    }

    /**
     * One bundled ZooKeeper or Kafka node, as its own process. ZooKeeper also takes
     * {@code --tls-keystore P12 --tls-password-file F --tls-certificate PEM} to serve TLS only.
     */
    private static void standalone(String what, List<String> args) throws Exception {
        Map<String, String> options = new java.util.HashMap<>();
        Set<String> known = what.equals("zookeeper") ? Set.of("--data-dir", "--port", "--tls-keystore", "--tls-password-file", "--tls-certificate")
                : Set.of("--data-dir", "--port");
        for (int i = 0; i + 1 < args.size(); i += 2) {
            if (!known.contains(args.get(i))) {
                throw new IllegalArgumentException("unknown option " + args.get(i) + "; " + what + " takes " + String.join(" ", known.stream().sorted().toList()));
            }
            options.put(args.get(i), args.get(i + 1));
        }
        if (!options.containsKey("--data-dir") || !options.containsKey("--port") || args.size() % 2 != 0) {
            throw new IllegalArgumentException(what + " takes --data-dir DIR --port N");
        }
        Path dir = Path.of(options.get("--data-dir"));
        int p = Integer.parseInt(options.get("--port"));
        if (what.equals("zookeeper")) {
            EmbeddedZooKeeper zk = new EmbeddedZooKeeper(dir, p);
            if (options.containsKey("--tls-keystore")) {
                zk.secured(Path.of(options.get("--tls-keystore")), SecretFile.read(Path.of(options.get("--tls-password-file"))),
                        Path.of(options.get("--tls-certificate")));
            }
            runUntilStopped(zk::close, () -> System.out.println("ZooKeeper ready at " + zk.start().connectString()));
        } else {
            EmbeddedKafka kafka = new EmbeddedKafka(dir, p);
            runUntilStopped(kafka::close, () -> System.out.println("Kafka ready at " + kafka.start().bootstrapServers()));
        }
    }

    /** The lease watchdog (see {@link LeaseWatchdog}); the session timeout must be the worker's. */
    private static void watchdog(List<String> args) throws Exception {
        Map<String, String> options = new java.util.HashMap<>(Map.of("--session-timeout-ms", "6000"));
        for (int i = 0; i < args.size(); i += 2) {
            if (!Set.of("--dir", "--session-timeout-ms").contains(args.get(i)) || i + 1 >= args.size()) {
                throw new IllegalArgumentException("watchdog takes --dir DIR [--session-timeout-ms N], not " + args.get(i));
            }
            options.put(args.get(i), args.get(i + 1));
        }
        if (!options.containsKey("--dir")) {
            throw new IllegalArgumentException("watchdog takes --dir DIR [--session-timeout-ms N]: the worker's worker.watchdog-dir");
        }
        int sessionTimeout;
        try {
            sessionTimeout = Integer.parseInt(options.get("--session-timeout-ms"));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--session-timeout-ms must be a number of milliseconds, not " + options.get("--session-timeout-ms"));
        }
        LeaseWatchdog watchdog = new LeaseWatchdog(Path.of(options.get("--dir")), Duration.ofMillis(sessionTimeout));
        runUntilStopped(watchdog::close, watchdog::start);
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
                .header("Authorization", "Bearer " + stack.adminToken()).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("not healthy: " + response.body());
        }
        if (response.body().contains("\"DEGRADED\"")) {
            System.out.println("WARNING: StorageBus is DEGRADED: " + response.body());
        }
    }
}
