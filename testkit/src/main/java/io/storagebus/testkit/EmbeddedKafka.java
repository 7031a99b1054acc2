package io.storagebus.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka (KRaft, combined broker + controller) running in this JVM.
 *
 * <p>The log directory is formatted once and reused, so a stopped broker restarts with its
 * data, on the same ports, which lets tests restart the broker under running clients and lets
 * {@code storagebus dev} keep its state across runs.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final Path logDir;
    private final int brokerPort;
    private final int controllerPort;
    private KafkaRaftServer server;
    /** Extra listeners: name, port the broker binds, port it advertises (a proxy in front of it). */
    private final java.util.List<int[]> extraPorts = new java.util.ArrayList<>();
    private final java.util.List<String> extraNames = new java.util.ArrayList<>();
    private Security security;
    private final int mutualTlsPort = freePort();

    /**
     * The broker's TLS certificate (PKCS#12, its password) and the password of {@value #ADMIN},
     * the super user that sets up users and ACLs; {@code clientCertificates}, when not null, a
     * PKCS#12 truststore (same password) of the client certificates a mutual-TLS listener accepts.
     */
    public record Security(Path keystore, String keystorePassword, String adminPassword, Path clientCertificates) {
        /** The keystore as Kafka's {@code ssl.keystore.*} or {@code ssl.truststore.*} settings. */
        Map<String, String> store(String prefix) {
            return Map.of(prefix + "type", "PKCS12", prefix + "location", keystore.toString(), prefix + "password", keystorePassword);
        }
    }

    /** The super user of a secured broker. */
    public static final String ADMIN = "admin";

    /** A broker keeping its log under {@code logDir}; ports 0 pick free ones. */
    public EmbeddedKafka(Path logDir, int brokerPort) {
        this.logDir = logDir.toAbsolutePath();
        this.brokerPort = brokerPort == 0 ? freePort() : brokerPort;
        this.controllerPort = freePort();
    }

    /**
     * Adds a listener that the broker binds on {@code port} and advertises as {@code advertisedPort}:
     * put a {@link TcpProxy} from the advertised port to the bound one, and clients that bootstrap
     * through the proxy keep talking through it, so a test can cut them off. Call before {@link #start()}.
     */
    public synchronized EmbeddedKafka addListener(String name, int port, int advertisedPort) {
        extraNames.add(name);
        extraPorts.add(new int[] {port, advertisedPort});
        return this;
    }

    /**
     * Makes the client listener SASL_SSL (SCRAM-SHA-512 users, the certificate of {@code security})
     * and turns the authorizer on: nobody may do anything without an ACL but {@value #ADMIN}. The
     * broker talks to itself over the same listener as {@value #ADMIN}. Call before the first
     * {@link #start()}: the admin's credentials are written when the log directory is formatted.
     */
    public synchronized EmbeddedKafka secured(Security security) {
        this.security = security;
        return this;
    }

    /**
     * The listener where clients show a certificate instead of a password (SSL with client
     * authentication required); the principal is the certificate's CN ({@code User:<CN>}).
     * Only with {@link Security#clientCertificates()}.
     */
    public String mutualTlsServers() {
        return "127.0.0.1:" + mutualTlsPort;
    }

    /** What an admin client needs besides the bootstrap servers: the plain or the admin's SASL_SSL settings. */
    public Map<String, Object> adminClientProperties() {
        Map<String, Object> p = new java.util.HashMap<>(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers()));
        if (security != null) {
            p.put("security.protocol", "SASL_SSL");
            p.put("sasl.mechanism", "SCRAM-SHA-512");
            p.put("sasl.jaas.config", jaas(ADMIN, security.adminPassword()));
            p.putAll(security.store("ssl.truststore."));
        }
        return p;
    }

    private static String jaas(String user, String password) {
        return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user + "\" password=\"" + password + "\";";
    }

    public synchronized EmbeddedKafka start() {
        if (server != null) {
            return this;
        }
        try {
            Files.createDirectories(logDir);
            Properties props = brokerProperties();
            if (!Files.exists(logDir.resolve("meta.properties"))) {
                format();
            }
            server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
            server.startup();
            awaitReady(Duration.ofSeconds(60));
            LOG.info("Kafka ready at {} (log dir {})", bootstrapServers(), logDir);
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String bootstrapServers() {
        return "127.0.0.1:" + brokerPort;
    }

    /** Stops the broker, keeping its data; {@link #start()} brings it back on the same ports. */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        server.shutdown();
        server.awaitShutdown();
        server = null;
    }

    @Override
    public void close() {
        stop();
    }

    private Properties brokerProperties() {
        Properties p = new Properties();
        p.put("process.roles", "broker,controller");
        p.put("node.id", "1");
        p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        String client = security == null ? "PLAINTEXT" : "SASL_SSL";
        StringBuilder listeners = new StringBuilder(client + "://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        StringBuilder advertised = new StringBuilder(client + "://127.0.0.1:" + brokerPort);
        StringBuilder protocols = new StringBuilder(client + ":" + client + ",CONTROLLER:PLAINTEXT");
        if (security != null && security.clientCertificates() != null) {
            listeners.append(",MTLS://127.0.0.1:").append(mutualTlsPort);
            advertised.append(",MTLS://127.0.0.1:").append(mutualTlsPort);
            protocols.append(",MTLS:SSL");
            p.put("listener.name.mtls.ssl.client.auth", "required");
            p.put("listener.name.mtls.ssl.truststore.type", "PKCS12");
            p.put("listener.name.mtls.ssl.truststore.location", security.clientCertificates().toString());
            p.put("listener.name.mtls.ssl.truststore.password", security.keystorePassword());
            p.put("listener.name.mtls.ssl.principal.mapping.rules", "RULE:^CN=([^,]+).*$/$1/,DEFAULT");
        }
        for (int i = 0; i < extraNames.size(); i++) {
            String name = extraNames.get(i);
            listeners.append(',').append(name).append("://127.0.0.1:").append(extraPorts.get(i)[0]);
            advertised.append(',').append(name).append("://127.0.0.1:").append(extraPorts.get(i)[1]);
            protocols.append(',').append(name).append(":PLAINTEXT");
        }
        p.put("listeners", listeners.toString());
        p.put("advertised.listeners", advertised.toString());
        p.put("controller.listener.names", "CONTROLLER");
        p.put("inter.broker.listener.name", client);
        if (security != null) {
            p.put("sasl.enabled.mechanisms", "SCRAM-SHA-512");
            p.put("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512");
            p.put("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config", jaas(ADMIN, security.adminPassword()));
            // The certificate is self-signed: the broker, as its own client, trusts the keystore it serves.
            p.putAll(security.store("ssl.keystore."));
            p.putAll(security.store("ssl.truststore."));
            p.put("authorizer.class.name", "org.apache.kafka.metadata.authorizer.StandardAuthorizer");
            p.put("allow.everyone.if.no.acl.found", "false");
            // ANONYMOUS reaches only the controller listener, bound to 127.0.0.1, which the broker itself uses.
            p.put("super.users", "User:" + ADMIN + ";User:ANONYMOUS");
        }
        p.put("listener.security.protocol.map", protocols.toString());
        p.put("log.dirs", logDir.toString());
        // A single broker: every internal topic has one replica and one partition, so that the
        // group and transaction coordinators come up quickly.
        p.put("offsets.topic.num.partitions", "1");
        p.put("offsets.topic.replication.factor", "1");
        p.put("transaction.state.log.num.partitions", "1");
        p.put("transaction.state.log.replication.factor", "1");
        p.put("transaction.state.log.min.isr", "1");
        p.put("share.coordinator.state.topic.replication.factor", "1");
        p.put("share.coordinator.state.topic.min.isr", "1");
        p.put("group.initial.rebalance.delay.ms", "0");
        p.put("auto.create.topics.enable", "false");
        p.put("num.partitions", "1");
        // Flushing is left to the OS, as Kafka's default and every production broker has it: a
        // killed process loses nothing (its writes are in the page cache), only a crash of the
        // machine could, and an fsync per message made every dev-mode write wait for the disk.
        return p;
    }

    private void format() {
        try (PrintStream quiet = new PrintStream(OutputStream.nullOutputStream())) {
            new Formatter()
                    .setPrintStream(quiet)
                    .setClusterId(Uuid.randomUuid().toString())
                    .setNodeId(1)
                    .setDirectories(List.of(logDir.toString()))
                    .setMetadataLogDirectory(logDir.toString())
                    .setControllerListenerName("CONTROLLER")
                    .setSupportedFeatures(Feature.PRODUCTION_FEATURES)
                    .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                    .setScramArguments(security == null ? List.of()
                            : List.of("SCRAM-SHA-512=[name=" + ADMIN + ",password=" + security.adminPassword() + "]"))
                    .run();
        } catch (Exception e) {
            throw new IllegalStateException("cannot format Kafka log dir " + logDir, e);
        }
    }

    private void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Admin admin = Admin.create(adminClientProperties())) {
            while (true) {
                try {
                    if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (Exception e) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("Kafka did not become ready in " + timeout, e);
                    }
                }
            }
        }
    }

    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
