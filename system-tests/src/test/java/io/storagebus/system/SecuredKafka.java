package io.storagebus.system;

import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.testkit.EmbeddedKafka;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.ResourcePatternFilter;

/**
 * An in-process broker as an operator secures one: SASL_SSL only (a keytool certificate,
 * SCRAM-SHA-512 users), the authorizer on, and nobody allowed anything without an ACL. The
 * test, as the broker's admin, makes each StorageBus identity a user and grants it its
 * {@link io.storagebus.bus.KafkaAcls}.
 */
final class SecuredKafka implements KafkaFixture {
    private static final Duration WAIT = Duration.ofSeconds(30);

    private final Path dir;
    private final TestTls tls;
    private final EmbeddedKafka kafka;
    private final Admin admin;

    SecuredKafka(Path dir) throws Exception {
        this(dir, List.of());
    }

    /**
     * Also a mutual-TLS listener, whose clients show one of the certificates made here for
     * {@code certificateUsers} (CN = user) and are that user to the ACLs.
     */
    SecuredKafka(Path dir, List<String> certificateUsers) throws Exception {
        this.dir = Files.createDirectories(dir);
        this.tls = TestTls.create(this.dir);
        Path trusted = null;
        for (String user : certificateUsers) {
            trusted = this.dir.resolve("client-certificates.p12");
            TestTls.clientCertificate(this.dir, user, trusted);
        }
        this.kafka = new EmbeddedKafka(this.dir.resolve("log"), 0)
                .secured(new EmbeddedKafka.Security(tls.keystore(), keystorePassword(), "admin-" + UUID.randomUUID(), trusted))
                .start();
        this.admin = Admin.create(kafka.adminClientProperties());
    }

    @Override
    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    /** The PEM of the broker's certificate: what clients trust ({@code kafka.ssl-ca-file}). */
    Path caFile() {
        return tls.certificate();
    }

    /** How {@code user} connects (SASL_SSL, SCRAM-SHA-512, trusting the broker's certificate). */
    KafkaConnection connection(String user, String password) {
        return KafkaConnection.of(bootstrapServers(), "SASL_SSL").withSasl("SCRAM-SHA-512", user, password).withTrustedCas(caFile());
    }

    /** How the holder of {@code user}'s client certificate connects (SSL, the certificate as its identity). */
    KafkaConnection certificateConnection(String user) throws Exception {
        return KafkaConnection.of(kafka.mutualTlsServers(), "SSL").withTrustedCas(caFile())
                .withKeyStore(dir.resolve(user + ".p12"), keystorePassword());
    }

    private String keystorePassword() throws Exception {
        return Files.readString(tls.passwordFile()).strip();
    }

    /** Grants {@code acls}, once the broker enforces them. */
    void grant(String principal, List<AclBinding> acls) throws Exception {
        admin.createAcls(acls).all().get();
        AclBindingFilter mine = new AclBindingFilter(ResourcePatternFilter.ANY,
                new AccessControlEntryFilter(principal, null, AclOperation.ANY, AclPermissionType.ANY));
        await().atMost(WAIT).until(() -> admin.describeAcls(mine).values().get().size() >= Set.copyOf(acls).size());
    }

    /** The password file of a user made by {@link #user}. */
    Path passwordFile(String user) {
        return dir.resolve(user + ".password");
    }

    /** Makes the SCRAM user {@code name} with the grants {@code acls}, once the broker enforces both; how it connects. */
    KafkaConnection user(String name, List<AclBinding> acls) throws Exception {
        String password = "pw-" + UUID.randomUUID();
        Files.writeString(passwordFile(name), password + "\n");
        admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(name,
                new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password))).all().get();
        grant("User:" + name, acls);
        await().atMost(WAIT).until(() -> admin.describeUserScramCredentials(List.of(name)).all().get().containsKey(name));
        return connection(name, password);
    }

    @Override
    public void close() {
        admin.close();
        kafka.close();
    }
}
