package io.storagebus.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DevCommandKeysTest {
    @TempDir
    Path dataDir;

    /** A command signed before a stop is carried out after the next start: the second start must trust the first's key. */
    @Test
    void aLaterStartTrustsWhatAnEarlierOneSignedAndTheKeyStaysPrivate() throws Exception {
        DevCommandKeys first = DevCommandKeys.in(dataDir);
        ProducerRecord<String, byte[]> signed = first.signer().sign(new ProducerRecord<>("storagebus.pool.default.spm-commands", "vol-1", new byte[] {1, 2}));

        DevCommandKeys second = DevCommandKeys.in(dataDir);
        ConsumerRecord<String, byte[]> received = new ConsumerRecord<>(signed.topic(), 0, 0, signed.key(), signed.value());
        signed.headers().forEach(h -> received.headers().add(h));
        assertTrue(second.verifier().verify(received));

        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir.resolve(CommandKeyFiles.PRIVATE_FILE))));
        assertTrue(Files.readString(dataDir.resolve(CommandKeyFiles.PUBLIC_FILE)).startsWith("-----BEGIN PUBLIC KEY-----"));
    }
}
