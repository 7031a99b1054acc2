package io.storagebus.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.KeyPair;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.CommandVerifier;
import io.storagebus.bus.Envelopes;
import io.storagebus.bus.MessageCodec;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.StreamLayer;
import io.storagebus.schema.TeardownVolume;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

class IssuerPolicyTest {
    private static final KeyPair MANAGERS = CommandSigner.generate();
    private static final DomainRef DOMAIN = DomainRef.newBuilder().setId("d").setDriver("file").setProperties(Map.of()).build();
    private static final String TOPIC = "storagebus.host.h1.commands";
    private static final VolumeState VOLUME = VolumeState.newBuilder().setEnvelope(Envelopes.origin("default", "manager:m", "t")).setId("v")
            .setDomainId("d").setName("disk").setVirtualSize(1 << 20).setFormat(VolumeFormat.QCOW2).setAllocation(Allocation.THIN)
            .setStatus(VolumeStatus.READY).setTaskId("t").setCreatedAt(Instant.now()).build();

    @Test
    void aDestructiveCommandNeedsAManagerIssuerEvenWithoutSignatures() throws Exception {
        IssuerPolicy policy = IssuerPolicy.unsigned();
        assertEquals(Optional.empty(), policy.refusal(unsigned(disconnect("manager:manager-1")), disconnect("manager:manager-1"),
                Envelopes.of(disconnect("manager:manager-1"))));
        DisconnectDomain bySubscriber = disconnect("subscriber:billing");
        assertTrue(policy.refusal(unsigned(bySubscriber), bySubscriber, bySubscriber.getEnvelope()).orElseThrow()
                .contains("DisconnectDomain from 'subscriber:billing' refused: only a manager may send it"));
        DisconnectDomain byHost = disconnect("host:h2");
        assertTrue(policy.refusal(unsigned(byHost), byHost, byHost.getEnvelope()).isPresent());
    }

    @Test
    void withTrustedKeysAManagersCommandNeedsTheirSignatureAndWhatHostsSendEachOtherDoesNot() throws Exception {
        IssuerPolicy policy = IssuerPolicy.signedBy(CommandVerifier.of(MANAGERS.getPublic()));
        DisconnectDomain command = disconnect("manager:manager-1");
        assertTrue(policy.refusal(unsigned(command), command, command.getEnvelope()).orElseThrow()
                .contains("not signed by a trusted manager key"));
        assertEquals(Optional.empty(), policy.refusal(signed(command, CommandSigner.of(MANAGERS.getPrivate())), command, command.getEnvelope()));
        assertTrue(policy.refusal(signed(command, CommandSigner.of(CommandSigner.generate().getPrivate())), command, command.getEnvelope())
                .isPresent(), "signed by another key");

        TeardownVolume teardown = TeardownVolume.newBuilder().setEnvelope(Envelopes.origin("default", "host:h2", "t")).setTaskId("t")
                .setVolumeId("v").setDomain(DOMAIN).setHostId("h1").build();
        assertTrue(policy.refusal(unsigned(teardown), teardown, teardown.getEnvelope()).orElseThrow()
                .contains("TeardownVolume from 'host:h2' refused: only a manager may send it"), "a host cannot tear down another's volumes");

        StreamLayer stream = StreamLayer.newBuilder().setEnvelope(Envelopes.origin("default", "host:h2", "t")).setTaskId("t").setVolumeId("v")
                .setDomain(DOMAIN).setVolume(VOLUME).setSnapshotId("s").setHostId("h1").setLayer("l").setChild("c").setBase("b").build();
        assertEquals(Optional.empty(), policy.refusal(unsigned(stream), stream, stream.getEnvelope()), "the SPM's step of a live merge");
        StreamLayer forged = StreamLayer.newBuilder(stream).setEnvelope(Envelopes.origin("default", "subscriber:x", "t")).build();
        assertTrue(policy.refusal(unsigned(forged), forged, forged.getEnvelope()).orElseThrow().contains("only a host sends it"));
    }

    private static DisconnectDomain disconnect(String issuer) {
        Envelope envelope = Envelopes.origin("default", issuer, "r1");
        return DisconnectDomain.newBuilder().setEnvelope(envelope).setRequestId("r1").setDomain(DOMAIN).setHostId("h1").build();
    }

    private static ConsumerRecord<String, byte[]> unsigned(SpecificRecord command) throws Exception {
        return new ConsumerRecord<>(TOPIC, 0, 0, "k", MessageCodec.standard().encode(command));
    }

    private static ConsumerRecord<String, byte[]> signed(SpecificRecord command, CommandSigner signer) throws Exception {
        ProducerRecord<String, byte[]> sent = signer.sign(new ProducerRecord<>(TOPIC, "k", MessageCodec.standard().encode(command)));
        ConsumerRecord<String, byte[]> r = unsigned(command);
        sent.headers().forEach(h -> r.headers().add(h));
        return r;
    }
}
