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

    public EmbeddedZooKeeper(Path baseDir, int port) {
        this(baseDir, port, 1000);
    }

    /** @param tickMillis ZooKeeper's tick: sessions expire on tick boundaries, and last at least two ticks */
    public EmbeddedZooKeeper(Path baseDir, int port, int tickMillis) {
        this.baseDir = baseDir.toAbsolutePath();
        this.port = port == 0 ? EmbeddedKafka.freePort() : port;
        this.tickMillis = tickMillis;
    }

    public synchronized EmbeddedZooKeeper start() {
        if (server != null) {
            return this;
        }
        try {
            Files.createDirectories(baseDir);
            Properties p = new Properties();
            p.put("tickTime", Integer.toString(tickMillis));
            p.put("clientPort", Integer.toString(port));
            p.put("clientPortAddress", "127.0.0.1");
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
