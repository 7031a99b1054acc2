package io.storagebus.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

import org.apache.zookeeper.server.embedded.ExitHandler;
import org.apache.zookeeper.server.embedded.ZooKeeperServerEmbedded;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A standalone ZooKeeper server running in this JVM, keeping its data under a directory so a
 * restart finds the znodes (epochs) it had. tickTime 1 s by default: sessions can be as short as 2 s.
 */
public final class EmbeddedZooKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedZooKeeper.class);

    private final Path baseDir;
    private final int port;
    private final int tickMillis;
    private ZooKeeperServerEmbedded server;
    private Path keystore;
    private String keystorePassword;
    private Path certificate;

    public EmbeddedZooKeeper(Path baseDir, int port) {
        this(baseDir, port, 1000);
    }

    /** @param tickMillis ZooKeeper's tick: sessions expire on tick boundaries, and last at least two ticks */
    public EmbeddedZooKeeper(Path baseDir, int port, int tickMillis) {
        this.baseDir = baseDir.toAbsolutePath();
        this.port = port == 0 ? EmbeddedKafka.freePort() : port;
        this.tickMillis = tickMillis;
    }

    /**
     * Serves clients over TLS only, with the certificate of a PKCS#12 keystore: the port becomes
     * the {@code secureClientPort}, and no plain client port is open. Call before {@link #start()}.
     *
     * @param certificatePem the keystore's certificate, which the server's trust store needs to hold something
     */
    public synchronized EmbeddedZooKeeper secured(Path pkcs12, String password, Path certificatePem) {
        this.keystore = pkcs12;
        this.keystorePassword = password;
        this.certificate = certificatePem;
        return this;
    }

    public synchronized EmbeddedZooKeeper start() {
        if (server != null) {
            return this;
        }
        try {
            Files.createDirectories(baseDir);
            Properties p = new Properties();
            p.put("tickTime", Integer.toString(tickMillis));
            if (keystore == null) {
                p.put("clientPort", Integer.toString(port));
                p.put("clientPortAddress", "127.0.0.1");
            } else {
                p.put("secureClientPort", Integer.toString(port));
                p.put("secureClientPortAddress", "127.0.0.1");
                p.put("serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory");
                p.put("ssl.keyStore.location", keystore.toString());
                p.put("ssl.keyStore.type", "PKCS12");
                p.put("ssl.keyStore.password", keystorePassword);
                // Clients are not asked for a certificate (they show the digest identity); the
                // server still needs a trust store that is not empty to start.
                p.put("ssl.trustStore.location", certificate.toString());
                p.put("ssl.trustStore.type", "PEM");
                p.put("ssl.clientAuth", "none");
            }
            p.put("dataDir", baseDir.resolve("data").toString());
            p.put("admin.enableServer", "false");
            p.put("4lw.commands.whitelist", "ruok,stat,mntr");
            server = ZooKeeperServerEmbedded.builder()
                    .baseDir(baseDir)
                    .configuration(p)
                    // Never let a ZooKeeper error call System.exit in a JVM that runs more.
                    .exitHandler(ExitHandler.LOG_ONLY)
                    .build();
            server.start(30_000);
            LOG.info("ZooKeeper ready at {} (data {})", connectString(), baseDir);
            return this;
        } catch (Exception e) {
            throw new IllegalStateException("cannot start ZooKeeper in " + baseDir, e);
        }
    }

    public String connectString() {
        return "127.0.0.1:" + port;
    }

    public synchronized void stop() {
        if (server != null) {
            server.close();
            server = null;
        }
    }

    @Override
    public void close() {
        stop();
    }
}
