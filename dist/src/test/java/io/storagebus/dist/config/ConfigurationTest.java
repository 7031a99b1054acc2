package io.storagebus.dist.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import io.storagebus.dist.config.Setting.Role;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigurationTest {
    @TempDir
    Path dir;

    @Test
    void optionsBeatEnvironmentWhichBeatsTheFileWhichBeatsDefaults() throws IOException {
        Path file = write("worker.conf", """
                # a host worker
                kafka.bootstrap-servers = kafka-1:9092,kafka-2:9092
                kafka.sasl-username = sb-host-7
                kafka.sasl-password-file = /etc/storagebus/secrets/kafka-host
                commands.trusted-keys-file = /etc/storagebus/commands.pub
                zookeeper.connect = zk-1:2181
                worker.host-id = host-7
                worker.pool = from-file
                extend.chunk-mb = 1024
                """);
        Configuration config = Configuration.load(Role.WORKER, List.of("--config", file.toString(), "--pool", "from-option"),
                Map.of("STORAGEBUS_WORKER_POOL", "from-env", "STORAGEBUS_EXTEND_CHUNK_MB", "2048"));

        assertEquals("from-option", config.string("worker.pool"));
        assertEquals(2048, config.integer("extend.chunk-mb"));
        assertEquals("host-7", config.string("worker.host-id"));
        assertEquals(9100, config.integer("worker.http-port"));
        assertEquals("$STORAGEBUS_EXTEND_CHUNK_MB", config.effective().get("extend.chunk-mb").source());
        assertEquals(file + ":6", config.effective().get("zookeeper.connect").source());
        assertEquals("default", config.effective().get("worker.http-port").source());
    }

    /** The README's first command: the dev stack's embedded Kafka and ZooKeeper have no security settings to ask for. */
    @Test
    void theDevStackStartsWithoutAnySetting() {
        Configuration config = Configuration.load(Role.DEV, List.of(), Map.of());

        assertEquals("storagebus-data", config.string("dev.data-dir"));
        assertEquals(8080, config.integer("dev.http-port"));
        assertEquals(2, config.integer("dev.workers"));
        assertEquals(19090, Configuration.load(Role.DEV, List.of("--http-port", "19090", "--data-dir", "x"), Map.of()).integer("dev.http-port"));
    }

    @Test
    void aBadFileIsRefusedNamingEveryWrongKeyAndWhereItIs() throws IOException {
        Path file = write("manager.conf", """
                kafka.bootstrap-server = kafka:9092
                zookeeper.connect = zk:2181
                manager.http-port = 80800
                worker.host-id = host-1
                manager.id = Manager_1
                manager.id = manager-2
                this line has no equals sign
                """);

        ConfigException e = assertThrows(ConfigException.class, () -> Configuration.load(Role.MANAGER, List.of("--config", file.toString()), Map.of()));
        String all = e.problems().stream().map(Configuration.Problem::toString).collect(Collectors.joining("\n"));

        assertTrue(all.contains(file + ":1: unknown key 'kafka.bootstrap-server' (did you mean 'kafka.bootstrap-servers'?)"), all);
        assertTrue(all.contains(file + ":3: 'manager.http-port' must be at most 65535, got '80800'"), all);
        assertTrue(all.contains(file + ":4: key 'worker.host-id' is not read by a manager (it is for [worker])"), all);
        assertTrue(all.contains(file + ":5: 'manager.id' must be lower-case letters"), all);
        assertTrue(all.contains(file + ":6: key 'manager.id' is set twice (also at " + file + ":5)"), all);
        assertTrue(all.contains(file + ":7: expected 'key = value'"), all);
        assertTrue(all.contains("missing required key 'kafka.bootstrap-servers'"), all);
        assertTrue(all.contains("missing 'manager.api-tokens-file'") && all.contains("'manager.api-auth = none'"),
                "a manager without tokens must say so explicitly: " + all);
        assertTrue(all.contains("missing 'manager.tls-keystore-file'") && all.contains("'manager.tls = off'"),
                "a manager without TLS must say so explicitly: " + all);
        assertTrue(all.contains("missing 'kafka.sasl-username'") && all.contains("'kafka.security-protocol = PLAINTEXT'"),
                "a process without a Kafka identity must say so explicitly: " + all);
        assertTrue(all.contains("missing 'commands.signing-key-file'") && all.contains("'commands.signatures = off'"),
                "a manager that signs no command must say so explicitly: " + all);
        assertEquals(13, e.problems().size(), all);
    }

    @Test
    void environmentValuesAndOptionsAreCheckedToo() {
        ConfigException e = assertThrows(ConfigException.class, () -> Configuration.load(Role.WORKER,
                List.of("--host-id", "h1", "--zookeper", "zk:2181"),
                Map.of("STORAGEBUS_KAFKA_BOOTSTRAP_SERVERS", "no-port", "STORAGEBUS_ZOOKEEPER_CONNECT", "zk:2181",
                        "STORAGEBUS_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "STORAGEBUS_COMMANDS_SIGNATURES", "off",
                        "STORAGEBUS_ZOOKEEPER_TLS", "off")));
        String all = e.problems().stream().map(Configuration.Problem::toString).collect(Collectors.joining("\n"));

        assertTrue(all.contains("$STORAGEBUS_KAFKA_BOOTSTRAP_SERVERS: 'kafka.bootstrap-servers' must be host:port"), all);
        assertTrue(all.contains("--zookeper: unknown option --zookeper for worker"), all);
        assertEquals(2, e.problems().size(), all);
    }

    @Test
    void checkInfersTheRoleFromTheKeysAFileSets() throws IOException {
        assertEquals(Optional.of(Role.WORKER), Configuration.roleOf(write("w.conf", "worker.host-id = h\n")));
        assertEquals(Optional.of(Role.MANAGER), Configuration.roleOf(write("m.conf", "manager.id = m\n")));
        assertEquals(Optional.empty(), Configuration.roleOf(write("both.conf", "manager.id = m\nworker.host-id = h\n")));
        assertEquals(List.of(), Configuration.check(write("ok.conf", """
                kafka.bootstrap-servers = localhost:9092
                kafka.sasl-username = sb-manager
                kafka.sasl-password-file = /etc/storagebus/secrets/kafka
                kafka.ssl-ca-file = /etc/storagebus/tls/kafka-ca.pem
                commands.signing-key-file = /etc/storagebus/commands.key
                zookeeper.connect = localhost:2181
                manager.advertised-url = http://manager-1:8080
                manager.api-tokens-file = /etc/storagebus/api-tokens
                manager.tls-keystore-file = /etc/storagebus/tls/manager.p12
                manager.tls-keystore-password-file = /etc/storagebus/tls/password
                log.format = json
                """), Role.MANAGER));
        assertEquals(List.of(), Configuration.check(write("no-auth.conf", """
                kafka.bootstrap-servers = localhost:9092
                zookeeper.connect = localhost:2181
                manager.api-auth = none
                manager.tls = off
                kafka.security-protocol = PLAINTEXT
                commands.signatures = off
                zookeeper.tls = off
                """), Role.MANAGER), "no authentication and no TLS, when said explicitly");
    }

    @Test
    void eachKafkaIdentityNeedsItsSecret() throws IOException {
        String all = Configuration.check(write("kafka.conf", """
                kafka.bootstrap-servers = localhost:9093
                zookeeper.connect = localhost:2181
                worker.host-id = h1
                kafka.security-protocol = SSL
                worker.spm-sasl-username = sb-spm-default
                worker.spm-ssl-keystore-file = /etc/storagebus/tls/spm.p12
                zookeeper.tls = off
                zookeeper.ssl-ca-file = /etc/storagebus/tls/zookeeper-ca.pem
                commands.trusted-keys-file = /etc/storagebus/commands.pub
                """), Role.WORKER).stream().map(Configuration.Problem::toString).collect(Collectors.joining("\n"));
        assertTrue(all.contains("missing 'kafka.ssl-keystore-file': kafka.security-protocol SSL makes the client certificate"), all);
        assertTrue(all.contains("missing 'worker.spm-sasl-password-file': worker.spm-sasl-username needs it"), all);
        assertTrue(all.contains("missing 'worker.spm-ssl-keystore-password-file'"), all);
        assertTrue(all.contains("'zookeeper.ssl-ca-file' is set but 'zookeeper.tls' is off"), all);
        assertTrue(Configuration.check(write("typo.conf", "kafka.bootstrap-servers = k:1\nzookeeper.connect = z:2\nworker.host-id = h\n"
                + "kafka.security-protocol = TLS\n"), Role.WORKER).toString().contains("must be SASL_SSL, SSL, SASL_PLAINTEXT or PLAINTEXT"));
    }

    @Test
    void configurationDocListsEveryKeyWithItsDefault() throws IOException {
        String doc = Files.readString(Path.of("..", "docs", "CONFIGURATION.md"));
        for (Setting s : Settings.ALL) {
            String row = "| `" + s.key() + "` |";
            assertTrue(doc.contains(row), "docs/CONFIGURATION.md lacks a row for " + s.key());
            String line = doc.lines().filter(l -> l.startsWith(row)).findFirst().orElseThrow();
            assertTrue(line.contains(s.required() ? "required" : "`" + (s.defaultValue() == null ? "" : s.defaultValue()) + "`")
                    || s.defaultValue() == null, "default of " + s.key() + " in docs/CONFIGURATION.md: " + line);
            assertTrue(line.contains("`" + s.envName() + "`"), "environment variable of " + s.key() + ": " + line);
        }
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }
}
