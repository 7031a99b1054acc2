package io.storagebus.bus;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;

/**
 * How one identity reaches Kafka: the brokers, and the client security settings
 * ({@code security.protocol}, {@code sasl.*}, {@code ssl.*}) that every producer, consumer and
 * admin client of that identity adds to its own. A process may hold two: a host worker reaches
 * Kafka as its host, and as the pool's SPM while it holds that role.
 */
public record KafkaConnection(String bootstrapServers, Map<String, String> security) {
    private static final String MASK = "********";

    public KafkaConnection {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        security = Map.copyOf(security);
    }

    /** No TLS and no authentication: tests, the dev mode, and a broker that allows anyone. */
    public static KafkaConnection plaintext(String bootstrapServers) {
        return new KafkaConnection(bootstrapServers, Map.of());
    }

    /** {@code protocol} as Kafka names it: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; add the identity with the {@code with} methods. */
    public static KafkaConnection of(String bootstrapServers, String protocol) {
        return plaintext(bootstrapServers).with(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, protocol);
    }

    /** Logs in as a SASL user: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN. */
    public KafkaConnection withSasl(String mechanism, String user, String password) {
        String module = mechanism.startsWith("SCRAM") ? "org.apache.kafka.common.security.scram.ScramLoginModule"
                : "org.apache.kafka.common.security.plain.PlainLoginModule";
        return with(SaslConfigs.SASL_MECHANISM, mechanism)
                .with(SaslConfigs.SASL_JAAS_CONFIG, module + " required username=\"" + quoted(user) + "\" password=\"" + quoted(password) + "\";");
    }

    /** Trusts the brokers whose certificates these CAs (a PEM file) signed, instead of the JDK's CAs. */
    public KafkaConnection withTrustedCas(Path pemFile) {
        return with(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM").with(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, pemFile.toString());
    }

    /** Shows the certificate of this PKCS#12 keystore to the brokers: with SSL, it is the identity. */
    public KafkaConnection withKeyStore(Path pkcs12, String password) {
        return with(SslConfigs.SSL_KEYSTORE_TYPE_CONFIG, "PKCS12").with(SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG, pkcs12.toString())
                .with(SslConfigs.SSL_KEYSTORE_PASSWORD_CONFIG, password);
    }

    private KafkaConnection with(String key, String value) {
        Map<String, String> more = new HashMap<>(security);
        more.put(key, value);
        return new KafkaConnection(bootstrapServers, more);
    }

    /** JAAS values are quoted strings: a quote or backslash in a password must not end it early. */
    private static String quoted(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    /** The protocol in use, as Kafka names it. */
    public String protocol() {
        return security.getOrDefault(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "PLAINTEXT");
    }

    /** Whether the connection is encrypted. */
    public boolean encrypted() {
        return protocol().endsWith("SSL");
    }

    /** Whether the broker learns who this is (SASL, or a client certificate over SSL). */
    public boolean authenticated() {
        return protocol().startsWith("SASL") || security.containsKey("ssl.keystore.location");
    }

    /** The settings with every secret masked, for logs and {@code config show}. */
    @Override
    public String toString() {
        Map<String, String> shown = new TreeMap<>();
        security.forEach((k, v) -> shown.put(k, k.contains("password") || k.equals("sasl.jaas.config") ? MASK : v));
        return bootstrapServers + " " + shown;
    }
}
