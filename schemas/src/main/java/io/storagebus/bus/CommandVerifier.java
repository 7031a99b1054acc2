package io.storagebus.bus;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * Tells whether a record was signed by one of the managers' keys ({@link CommandSigner}). More
 * than one key may be trusted at once, so that a key can be replaced without a moment in which
 * the workers trust neither.
 */
public final class CommandVerifier {
    private final List<PublicKey> trusted;

    private CommandVerifier(List<PublicKey> trusted) {
        this.trusted = List.copyOf(trusted);
    }

    /** Every {@code -----BEGIN PUBLIC KEY-----} block of a PEM file. */
    public static CommandVerifier fromPem(Path file) throws IOException {
        List<PublicKey> keys = new ArrayList<>();
        try {
            KeyFactory factory = KeyFactory.getInstance(CommandSigner.ALGORITHM);
            for (byte[] der : CommandSigner.Pem.decode(Files.readString(file, StandardCharsets.UTF_8), "PUBLIC KEY", file)) {
                keys.add(factory.generatePublic(new X509EncodedKeySpec(der)));
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(file + " holds a key that is not an Ed25519 public key: " + e.getMessage(), e);
        }
        return new CommandVerifier(keys);
    }

    public static CommandVerifier of(PublicKey... keys) {
        return new CommandVerifier(List.of(keys));
    }

    /** Whether the record carries a signature of its topic, key and value by a trusted key. */
    public boolean verify(ConsumerRecord<String, byte[]> record) {
        Header header = record.headers().lastHeader(CommandSigner.HEADER);
        if (header == null || header.value() == null) {
            return false;
        }
        byte[] signed = CommandSigner.signedBytes(record.topic(), record.key(), record.value());
        for (PublicKey key : trusted) {
            try {
                Signature s = Signature.getInstance(CommandSigner.ALGORITHM);
                s.initVerify(key);
                s.update(signed);
                if (s.verify(header.value())) {
                    return true;
                }
            } catch (GeneralSecurityException e) {
                // A malformed signature is no signature: try the next key, then refuse.
            }
        }
        return false;
    }
}
