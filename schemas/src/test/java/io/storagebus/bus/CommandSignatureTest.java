package io.storagebus.bus;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.Signature;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CommandSignatureTest {
    private static final KeyPair MANAGERS = CommandSigner.generate();
    private static final CommandSigner SIGNER = CommandSigner.of(MANAGERS.getPrivate());

    @TempDir
    Path dir;

    @Test
    void aSignedRecordVerifiesAndAnyChangeToItsTopicKeyOrValueDoesNot() {
        ProducerRecord<String, byte[]> signed = SIGNER.sign(new ProducerRecord<>("storagebus.pool.a.spm-commands", "vol-1", bytes("delete vol-1")));
        CommandVerifier verifier = CommandVerifier.of(MANAGERS.getPublic());

        assertTrue(verifier.verify(received(signed, signed.topic(), signed.key(), signed.value())));
        assertFalse(verifier.verify(received(signed, "storagebus.pool.b.spm-commands", signed.key(), signed.value())), "moved to another pool");
        assertFalse(verifier.verify(received(signed, signed.topic(), "vol-2", signed.value())), "another key");
        assertFalse(verifier.verify(received(signed, signed.topic(), signed.key(), bytes("delete vol-2"))), "another value");
        assertFalse(verifier.verify(new ConsumerRecord<>(signed.topic(), 0, 0, signed.key(), signed.value())), "no signature");
    }

    @Test
    void onlyTrustedKeysCountAndTwoMayBeTrustedWhileOneIsReplaced() throws Exception {
        KeyPair next = CommandSigner.generate();
        ProducerRecord<String, byte[]> byNext = CommandSigner.of(next.getPrivate()).sign(new ProducerRecord<>("t", "k", bytes("v")));
        ConsumerRecord<String, byte[]> received = received(byNext, "t", "k", byNext.value());

        assertFalse(CommandVerifier.of(MANAGERS.getPublic()).verify(received));
        Path both = Files.writeString(dir.resolve("commands.pub"), CommandSigner.publicPem(MANAGERS.getPublic()) + CommandSigner.publicPem(next.getPublic()));
        assertTrue(CommandVerifier.fromPem(both).verify(received));

        ConsumerRecord<String, byte[]> garbage = new ConsumerRecord<>("t", 0, 0, "k", byNext.value());
        garbage.headers().add(CommandSigner.HEADER, new byte[] {1, 2, 3});
        assertFalse(CommandVerifier.fromPem(both).verify(garbage), "a malformed signature is no signature");
    }

    /**
     * Signatures are made and checked with Bouncy Castle, keys are the JDK's: both must agree with
     * the JDK's own Ed25519 byte for byte, or a manager and a worker of different releases (a
     * rolling upgrade) would refuse each other's commands.
     */
    @Test
    void signaturesAreTheJdksEd25519BothWays() throws Exception {
        ProducerRecord<String, byte[]> ours = SIGNER.sign(new ProducerRecord<>("storagebus.pool.a.spm-commands", "vol-1", bytes("delete vol-1")));
        byte[] signedBytes = CommandSigner.signedBytes(ours.topic(), ours.key(), ours.value());
        Signature jdk = Signature.getInstance("Ed25519");
        jdk.initSign(MANAGERS.getPrivate());
        jdk.update(signedBytes);
        byte[] jdkSignature = jdk.sign();
        assertArrayEquals(jdkSignature, ours.headers().lastHeader(CommandSigner.HEADER).value(), "Ed25519 is deterministic: the same bytes");

        jdk.initVerify(MANAGERS.getPublic());
        jdk.update(signedBytes);
        assertTrue(jdk.verify(ours.headers().lastHeader(CommandSigner.HEADER).value()), "the JDK accepts our signature");
        ProducerRecord<String, byte[]> byJdk = new ProducerRecord<>(ours.topic(), ours.key(), ours.value());
        byJdk.headers().add(CommandSigner.HEADER, jdkSignature);
        assertTrue(CommandVerifier.of(MANAGERS.getPublic()).verify(received(byJdk, ours.topic(), ours.key(), ours.value())), "we accept the JDK's");
    }

    @Test
    void keysRoundTripThroughPemAndBadFilesAreNamed() throws Exception {
        Path key = Files.writeString(dir.resolve("commands.key"), CommandSigner.privatePem(MANAGERS.getPrivate()));
        ProducerRecord<String, byte[]> signed = CommandSigner.fromPem(key).sign(new ProducerRecord<>("t", "k", bytes("v")));
        assertTrue(CommandVerifier.of(MANAGERS.getPublic()).verify(received(signed, "t", "k", signed.value())));

        Path publicAsPrivate = Files.writeString(dir.resolve("wrong.key"), CommandSigner.publicPem(MANAGERS.getPublic()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CommandSigner.fromPem(publicAsPrivate));
        assertTrue(e.getMessage().contains("wrong.key holds no '-----BEGIN PRIVATE KEY-----' block"), e.getMessage());
    }

    @Test
    void theTopicsWorkersTakeCommandsFromAreTheOnesSigned() {
        assertTrue(Topics.carriesCommands(Topics.spmCommands("default")));
        assertTrue(Topics.carriesCommands(Topics.hostCommands("hv-1")));
        assertFalse(Topics.carriesCommands(Topics.VOLUME_STATE));
        assertFalse(Topics.carriesCommands(Topics.EVENTS));
        assertFalse(Topics.carriesCommands(Topics.watermarks("default")));
        assertFalse(Topics.carriesCommands(Topics.spmJobs("default")));
    }

    private static ConsumerRecord<String, byte[]> received(ProducerRecord<String, byte[]> sent, String topic, String key, byte[] value) {
        ConsumerRecord<String, byte[]> r = new ConsumerRecord<>(topic, 0, 0, key, value);
        for (Header h : sent.headers()) {
            r.headers().add(h);
        }
        return r;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
