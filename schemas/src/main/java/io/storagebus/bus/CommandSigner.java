package io.storagebus.bus;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.signers.Ed25519Signer;
import org.bouncycastle.crypto.util.PrivateKeyFactory;

/**
 * Signs the commands a manager publishes with its Ed25519 key, so that a worker can tell a
 * manager's command from one that anyone else with write access to a topic made up. Kafka does
 * not tell a consumer who produced a record; the signature does. It covers the topic, the key
 * and the value (whose envelope names the issuer), so a signed command can be neither altered
 * nor moved to another topic. {@link CommandVerifier} checks it.
 */
public final class CommandSigner {
    /** The record header holding the signature. */
    public static final String HEADER = "sb-signature";
    static final String ALGORITHM = "Ed25519";

    /**
     * The key as Bouncy Castle's Ed25519 takes it: its signatures are the same bytes as the JDK's
     * (RFC 8032 is deterministic) at a tenth of the JDK 17's cost, about 0.05 ms against 0.5 ms,
     * which every command the manager publishes pays.
     */
    private final Ed25519PrivateKeyParameters key;

    private CommandSigner(PrivateKey key) {
        try {
            if (!(PrivateKeyFactory.createKey(key.getEncoded()) instanceof Ed25519PrivateKeyParameters ed25519)) {
                throw new IllegalArgumentException("not an " + ALGORITHM + " private key: " + key.getAlgorithm());
            }
            this.key = ed25519;
        } catch (IOException e) {
            throw new IllegalArgumentException("unreadable " + ALGORITHM + " private key: " + e.getMessage(), e);
        }
    }

    /** The private key of a PEM file ({@code -----BEGIN PRIVATE KEY-----}, PKCS#8), as {@code storagebus command-keys create} writes it. */
    public static CommandSigner fromPem(Path file) throws IOException {
        try {
            byte[] der = Pem.decode(Files.readString(file, StandardCharsets.UTF_8), "PRIVATE KEY", file).get(0);
            return new CommandSigner(KeyFactory.getInstance(ALGORITHM).generatePrivate(new PKCS8EncodedKeySpec(der)));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(file + " holds no Ed25519 private key: " + e.getMessage(), e);
        }
    }

    /** A new key pair; the private half signs, the public half goes to every worker. */
    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK has no " + ALGORITHM, e);
        }
    }

    public static CommandSigner of(PrivateKey key) {
        return new CommandSigner(key);
    }

    public static String privatePem(PrivateKey key) {
        return Pem.encode("PRIVATE KEY", key.getEncoded());
    }

    public static String publicPem(PublicKey key) {
        return Pem.encode("PUBLIC KEY", key.getEncoded());
    }

    /** Adds the signature header to {@code record}, whose topic, key and value are final by now. */
    public <R extends ProducerRecord<String, byte[]>> R sign(R record) {
        byte[] signed = signedBytes(record.topic(), record.key(), record.value());
        Ed25519Signer signer = new Ed25519Signer();
        signer.init(true, key);
        signer.update(signed, 0, signed.length);
        record.headers().add(HEADER, signer.generateSignature());
        return record;
    }

    /** Topic, key and value, each length-prefixed so that no two different records sign the same bytes. */
    static byte[] signedBytes(String topic, String key, byte[] value) {
        byte[] t = topic.getBytes(StandardCharsets.UTF_8);
        byte[] k = key == null ? new byte[0] : key.getBytes(StandardCharsets.UTF_8);
        byte[] v = value == null ? new byte[0] : value;
        return java.nio.ByteBuffer.allocate(12 + t.length + k.length + v.length)
                .putInt(t.length).put(t).putInt(k.length).put(k).putInt(v.length).put(v).array();
    }

    /** PEM armour: base64 of DER between BEGIN and END lines. */
    static final class Pem {
        private Pem() {
        }

        static String encode(String label, byte[] der) {
            return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                    + "\n-----END " + label + "-----\n";
        }

        /** Every {@code label} block of {@code text}, in order; at least one, or an error naming {@code source}. */
        static java.util.List<byte[]> decode(String text, String label, Path source) {
            java.util.List<byte[]> blocks = new java.util.ArrayList<>();
            String begin = "-----BEGIN " + label + "-----";
            String end = "-----END " + label + "-----";
            int from = text.indexOf(begin);
            while (from >= 0) {
                int to = text.indexOf(end, from);
                if (to < 0) {
                    throw new IllegalArgumentException(source + ": '" + begin + "' without '" + end + "'");
                }
                blocks.add(Base64.getMimeDecoder().decode(text.substring(from + begin.length(), to)));
                from = text.indexOf(begin, to);
            }
            if (blocks.isEmpty()) {
                throw new IllegalArgumentException(source + " holds no '" + begin + "' block");
            }
            return blocks;
        }
    }
}
