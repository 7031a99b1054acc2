package io.storagebus.dist.config;

import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import io.storagebus.dist.config.Setting.Role;
import io.storagebus.dist.config.Setting.Type;

/** Every configuration key StorageBus reads; docs/CONFIGURATION.md lists the same, and a test keeps the two equal. */
public final class Settings {
    private static final Set<Role> SERVICES = EnumSet.of(Role.MANAGER, Role.WORKER);
    private static final Set<Role> ALL_ROLES = EnumSet.allOf(Role.class);
    private static final Set<Role> MANAGER = EnumSet.of(Role.MANAGER);
    private static final Set<Role> WORKER = EnumSet.of(Role.WORKER);
    private static final Set<Role> DEV = EnumSet.of(Role.DEV);

    public static final List<Setting> ALL = List.of(
            new Setting("kafka.bootstrap-servers", SERVICES, Type.SERVERS, null, true, "bootstrap-servers",
                    "Kafka brokers to start from"),
            new Setting("kafka.security-protocol", SERVICES, Type.KAFKA_PROTOCOL, "SASL_SSL", false, null,
                    "SASL_SSL: TLS and a SCRAM user; SSL: TLS with a client certificate as the identity; PLAINTEXT, SASL_PLAINTEXT: "
                            + "no encryption (never in production)"),
            new Setting("kafka.sasl-mechanism", SERVICES, Type.SASL_MECHANISM, "SCRAM-SHA-512", false, null,
                    "how the SASL user proves itself"),
            new Setting("kafka.sasl-username", SERVICES, Type.STRING, null, false, null,
                    "this process's Kafka user (a worker: its host's user); required with SASL"),
            new Setting("kafka.sasl-password-file", SERVICES, Type.STRING, null, false, null,
                    "file whose first line is that user's password; required with SASL"),
            new Setting("kafka.ssl-ca-file", SERVICES, Type.STRING, null, false, null,
                    "PEM file of the CA certificates that sign the brokers' certificates (unset: the JDK's CAs)"),
            new Setting("kafka.ssl-keystore-file", SERVICES, Type.STRING, null, false, null,
                    "PKCS#12 keystore with this process's client certificate; required with SSL, where it is the identity"),
            new Setting("kafka.ssl-keystore-password-file", SERVICES, Type.STRING, null, false, null,
                    "file whose first line is the keystore's password; required with kafka.ssl-keystore-file"),
            new Setting("zookeeper.connect", SERVICES, Type.SERVERS, null, true, "zookeeper",
                    "ZooKeeper ensemble"),
            new Setting("zookeeper.session-timeout-ms", SERVICES, Type.INT, "6000", false, "zk-session-timeout-ms",
                    "how long ZooKeeper waits before it declares this process gone: the floor of SPM failover and manager takeover"),
            new Setting("zookeeper.digest-user", SERVICES, Type.STRING, null, false, null,
                    "ZooKeeper digest identity shared by every StorageBus process; the znodes they create are theirs alone (unset: anonymous, open znodes)"),
            new Setting("zookeeper.digest-password-file", SERVICES, Type.STRING, null, false, null,
                    "file whose first line is that identity's password; required with zookeeper.digest-user"),
            new Setting("zookeeper.tls", SERVICES, Type.ON_OFF, "on", false, null,
                    "on: the ensemble is reached over TLS (its secureClientPort); off: plain TCP, where the digest password "
                            + "travels in the clear (never in production)"),
            new Setting("zookeeper.ssl-ca-file", SERVICES, Type.STRING, null, false, null,
                    "PEM file of the CAs that sign the ZooKeeper servers' certificates (unset: the JDK's CAs)"),
            new Setting("zookeeper.ssl-keystore-file", SERVICES, Type.STRING, null, false, null,
                    "PKCS#12 keystore with a client certificate, for an ensemble that asks for one"),
            new Setting("zookeeper.ssl-keystore-password-file", SERVICES, Type.STRING, null, false, null,
                    "file whose first line is that keystore's password; required with zookeeper.ssl-keystore-file"),
            new Setting("topics.replication", SERVICES, Type.INT, "1", false, null,
                    "replication factor of the topics this process creates when they are missing (3 on a production cluster)"),
            new Setting("log.format", ALL_ROLES, Type.LOG_FORMAT, "text", false, null,
                    "text for people, json for log collectors (one object a line, with correlation ids)"),
            new Setting("log.level", ALL_ROLES, Type.LOG_LEVEL, "INFO", false, null,
                    "level of StorageBus's own loggers"),
            new Setting("manager.id", MANAGER, Type.NAME, "manager-1", false, "manager-id",
                    "unique among the managers of one installation"),
            new Setting("manager.http-host", MANAGER, Type.STRING, "0.0.0.0", false, "http-host",
                    "address the REST API listens on"),
            new Setting("manager.http-port", MANAGER, Type.PORT, "8080", false, "http-port",
                    "port of the REST API, /metrics and the health endpoints"),
            new Setting("manager.advertised-url", MANAGER, Type.URL, null, false, "advertised-url",
                    "how clients reach this manager; a standby sends writes here with a 307 (default http://<http-host>:<http-port>)"),
            new Setting("manager.default-pool", MANAGER, Type.NAME, "default", false, "default-pool",
                    "pool of domains created without one"),
            new Setting("manager.storage-check-timeout-ms", MANAGER, Type.INT, "30000", false, null,
                    "how long creating a domain waits for a host of its pool to check the storage (504 STORAGE_CHECK_TIMEOUT after)"),
            new Setting("manager.task-retention-seconds", MANAGER, Type.INT, "604800", false, null,
                    "how long a finished task is kept before the active manager removes it from the state (its volume stays); 7 days by default"),
            new Setting("manager.trash-retention-seconds", MANAGER, Type.INT, "604800", false, null,
                    "how long a deleted volume stays in the trash (its data kept, restorable) before the active manager has it purged; 7 days by default"),
            new Setting("manager.api-auth", MANAGER, Type.API_AUTH, "tokens", false, null,
                    "tokens: every REST call needs a bearer token from manager.api-tokens-file; none: no authentication (never in production)"),
            new Setting("manager.api-tokens-file", MANAGER, Type.STRING, null, false, "api-tokens-file",
                    "the REST API's tokens, one 'name role sha256' line each (storagebus tokens create prints one); required with api-auth tokens"),
            new Setting("manager.tls", MANAGER, Type.ON_OFF, "on", false, null,
                    "on: the REST API is https with manager.tls-keystore-file; off: plain http (never in production)"),
            new Setting("manager.tls-keystore-file", MANAGER, Type.STRING, null, false, null,
                    "PKCS#12 keystore with the REST API's certificate and key; required with tls on"),
            new Setting("manager.tls-keystore-password-file", MANAGER, Type.STRING, null, false, null,
                    "file whose first line is the keystore's password; required with tls on"),
            new Setting("commands.signatures", SERVICES, Type.ON_OFF, "on", false, null,
                    "on: managers sign every command and workers carry out a destroy, delete or maintenance disconnect only when "
                            + "a trusted manager key signed it; off: an issuer that says it is a manager is believed (never in production)"),
            new Setting("commands.signing-key-file", MANAGER, Type.STRING, null, false, null,
                    "the managers' Ed25519 private key (PEM; storagebus command-keys create makes it); required with signatures on"),
            new Setting("commands.trusted-keys-file", WORKER, Type.STRING, null, false, null,
                    "the managers' Ed25519 public keys (PEM, one or more while a key is replaced); required with signatures on"),
            new Setting("worker.host-id", WORKER, Type.HOST_ID, null, true, "host-id",
                    "this host's id: keep it across restarts, the host's topic and leases are named by it"),
            new Setting("worker.pool", WORKER, Type.NAME, "default", false, "pool",
                    "the pool whose SPM election this host joins"),
            new Setting("worker.spm-sasl-username", WORKER, Type.STRING, null, false, null,
                    "the pool's SPM user, used only while this host is the SPM (unset: the host's own identity serves both)"),
            new Setting("worker.spm-sasl-password-file", WORKER, Type.STRING, null, false, null,
                    "file whose first line is the SPM user's password; required with worker.spm-sasl-username"),
            new Setting("worker.spm-ssl-keystore-file", WORKER, Type.STRING, null, false, null,
                    "with kafka.security-protocol SSL: PKCS#12 keystore with the pool's SPM certificate"),
            new Setting("worker.spm-ssl-keystore-password-file", WORKER, Type.STRING, null, false, null,
                    "file whose first line is that keystore's password; required with worker.spm-ssl-keystore-file"),
            new Setting("worker.http-host", WORKER, Type.STRING, "0.0.0.0", false, null,
                    "address of the worker's /metrics and health endpoints"),
            new Setting("worker.http-port", WORKER, Type.PORT, "9100", false, "http-port",
                    "port of the worker's /metrics and health endpoints"),
            new Setting("worker.transfer-host", WORKER, Type.STRING, "0.0.0.0", false, null,
                    "address the worker serves image transfers on (uploads and downloads of volumes, while it is the SPM)"),
            new Setting("worker.transfer-port", WORKER, Type.PORT, "54322", false, "transfer-port",
                    "port of the worker's image transfers (imageio's)"),
            new Setting("worker.transfer-advertised-host", WORKER, Type.STRING, null, false, null,
                    "the host name clients reach the worker's image transfers by, in the URLs it hands out (unset: this machine's name)"),
            new Setting("worker.transfer-dir", WORKER, Type.STRING, "/var/tmp/storagebus/transfers", false, "transfer-dir",
                    "where the worker stages images in transit: room for the largest image in flight; its own, emptied at start"),
            new Setting("worker.watchdog-dir", WORKER, Type.STRING, null, false, "watchdog-dir",
                    "directory shared with this host's lease watchdog (bin/storagebus watchdog --dir, e.g. /run/storagebus/watchdog): "
                            + "the worker renews there the leases its guests write under, and the watchdog stops a guest whose renewal "
                            + "is overdue (a frozen or dead worker); unset: no watchdog"),
            new Setting("worker.qmp-dir", WORKER, Type.STRING, "/var/lib/libvirt/qemu", false, "qmp-dir",
                    "where this host's QEMUs keep their QMP sockets (libvirt's, by default); a monitor request naming a socket "
                            + "outside it is refused"),
            new Setting("worker.block-stats-interval-ms", WORKER, Type.INT, "2000", false, "block-stats-interval-ms",
                    "fallback read of guests' highest write offsets, and repeat of an unanswered report"),
            new Setting("extend.chunk-mb", WORKER, Type.INT, "2560", false, "extend-chunk-mb",
                    "thin volumes grow by at least this; the same on every worker of a pool"),
            new Setting("extend.free-percent", WORKER, Type.INT, "20", false, "extend-free-percent",
                    "report when less than this share of a chunk is left"),
            new Setting("extend.chunk-seconds", WORKER, Type.INT, "5", false, "extend-chunk-seconds",
                    "a chunk holds this many seconds of the observed write rate"),
            new Setting("extend.time-to-full-warning-minutes", WORKER, Type.INT, "60", false, null,
                    "the SPM raises a WARNING CapacityAlert when a domain's forecast time to full drops under this"),
            new Setting("extend.time-to-full-critical-minutes", WORKER, Type.INT, "10", false, null,
                    "the SPM raises a CRITICAL CapacityAlert under this; at most the warning"),
            new Setting("dev.data-dir", DEV, Type.STRING, "storagebus-data", false, "data-dir",
                    "where the dev stack keeps all its data"),
            new Setting("dev.http-port", DEV, Type.PORT, "8080", false, "http-port",
                    "port of the dev stack's REST API"),
            new Setting("dev.workers", DEV, Type.INT, "2", false, "workers",
                    "number of host workers the dev stack runs"));

    private Settings() {
    }

    public static Optional<Setting> find(String key) {
        return ALL.stream().filter(s -> s.key().equals(key)).findFirst();
    }

    public static List<Setting> of(Role role) {
        return ALL.stream().filter(s -> s.roles().contains(role)).toList();
    }
}
