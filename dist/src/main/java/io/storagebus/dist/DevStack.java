package io.storagebus.dist;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.manager.Manager;
import io.storagebus.manager.ManagerConfig;
import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.Role;
import io.storagebus.testkit.EmbeddedKafka;
import io.storagebus.testkit.EmbeddedZooKeeper;
import io.storagebus.worker.HostWorker;
import io.storagebus.worker.IssuerPolicy;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.transfer.TransferEndpoint;

/**
 * Everything in one process: ZooKeeper, Kafka, the manager and host workers, with all data under
 * one directory so the next start finds it again. For trying StorageBus out and for tests.
 */
public final class DevStack implements AutoCloseable {
    public static final String POOL = "default";

    private final Path dataDir;
    private final int httpPort;
    private final int workerCount;
    private EmbeddedZooKeeper zooKeeper;
    private EmbeddedKafka kafka;
    private Manager manager;
    private String adminToken;
    private final List<HostWorker> workers = new ArrayList<>();

    public DevStack(Path dataDir, int httpPort, int workerCount) {
        this.dataDir = dataDir.toAbsolutePath();
        this.httpPort = httpPort;
        this.workerCount = workerCount;
    }

    public DevStack start() throws Exception {
        Files.createDirectories(imagesDir());
        Files.createDirectories(qmpDir());
        zooKeeper = new EmbeddedZooKeeper(dataDir.resolve("zookeeper"), 0).start();
        kafka = new EmbeddedKafka(dataDir.resolve("kafka"), 0).start();
        // Commands are signed as in production, so that what the dev stack shows and measures is
        // what a deployment pays; the public key is beside dev.env for a worker started in another shell.
        DevCommandKeys commandKeys = DevCommandKeys.in(dataDir);
        IssuerPolicy signedByTheStack = IssuerPolicy.signedBy(commandKeys.verifier());
        for (int i = 1; i <= workerCount; i++) {
            String hostId = "host-" + i;
            workers.add(new HostWorker(WorkerConfig.of(hostId, POOL, kafka.bootstrapServers(), zooKeeper.connectString())
                    .withIssuerPolicy(signedByTheStack)
                    .withQmpDirectory(qmpDir())
                    .withTransfers(new TransferEndpoint("127.0.0.1", 0, "127.0.0.1", dataDir.resolve("transfers").resolve(hostId)))).start());
        }
        // Even the dev stack asks for a token: a fresh admin token each start, shown once, its hash in the data directory.
        adminToken = ApiTokens.generate();
        Path tokens = dataDir.resolve("api-tokens");
        Files.writeString(tokens, "# written by the dev stack at each start\n" + ApiTokens.line("dev-admin", Role.ADMIN, adminToken) + "\n");
        manager = new Manager(ManagerConfig.of(kafka.bootstrapServers(), zooKeeper.connectString(), httpPort).withApiTokens(tokens)
                .withSigner(commandKeys.signer())
                .withReservedDirectories(List.of(dataDir.resolve("kafka"), dataDir.resolve("zookeeper")))).start();
        writeEnvironment();
        return this;
    }

    /**
     * What a second shell needs to talk to this start, for {@code . storagebus-data/dev.env}: the
     * API's URL, the admin token, Kafka's and ZooKeeper's addresses (their ports are new at each
     * start) and the key that signs commands (so a worker started in that shell joins this stack
     * as another host). Readable by its owner only, since it holds the token.
     */
    private void writeEnvironment() throws java.io.IOException {
        Path env = environmentFile();
        Files.deleteIfExists(env);
        Files.createFile(env, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(env, "# written by 'storagebus dev' at each start; in another shell: . " + env + "\n"
                + "export STORAGEBUS_URL=" + manager.baseUrl() + "\n"
                + "export STORAGEBUS_TOKEN=" + adminToken + "\n"
                + "export STORAGEBUS_KAFKA_BOOTSTRAP_SERVERS=" + kafka.bootstrapServers() + "\n"
                + "export STORAGEBUS_ZOOKEEPER_CONNECT=" + zooKeeper.connectString() + "\n"
                + "export STORAGEBUS_COMMANDS_TRUSTED_KEYS_FILE=" + commandsPublicKey() + "\n");
    }

    /** The public key of the stack's command signatures (PEM), which a worker joining the stack trusts. */
    public Path commandsPublicKey() {
        return dataDir.resolve(CommandKeyFiles.PUBLIC_FILE);
    }

    /** The shell file with this start's URL, token and Kafka address. */
    public Path environmentFile() {
        return dataDir.resolve("dev.env");
    }

    /** The admin token of this start: every REST call needs it (the CLI reads $STORAGEBUS_TOKEN). */
    public String adminToken() {
        return adminToken;
    }

    /** Where the dev stack's workers accept QMP sockets of guests (worker.qmp-dir). */
    public Path qmpDir() {
        return dataDir.resolve("qmp");
    }

    /** A directory the dev stack creates for file domains. */
    public Path imagesDir() {
        return dataDir.resolve("images");
    }

    public Manager manager() {
        return manager;
    }

    public List<HostWorker> workers() {
        return workers;
    }

    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    public String zkConnect() {
        return zooKeeper.connectString();
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
        }
        // The SPM last, so that stopping does not hand its role to a worker that is about to stop too.
        workers.stream().sorted(java.util.Comparator.comparing(w -> w.spmTerm().isPresent())).forEach(HostWorker::close);
        if (kafka != null) {
            kafka.close();
        }
        if (zooKeeper != null) {
            zooKeeper.close();
        }
    }
}
