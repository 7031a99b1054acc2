package io.storagebus.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import io.storagebus.bus.CommandSigner;
import io.storagebus.bus.CommandVerifier;
import io.storagebus.bus.Envelopes;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.VolumeFormat;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * What signed commands cost: a manager signs every record it publishes, a worker verifies every
 * manager command it carries out. Signs and verifies {@code --records N} CreateVolume commands
 * (after as many for warm-up) and prints the time each takes.
 */
final class SignatureBenchmark {
    private SignatureBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int records = args.length == 2 && args[0].equals("--records") ? Integer.parseInt(args[1]) : 20_000;
        var keys = CommandSigner.generate();
        CommandSigner signer = CommandSigner.of(keys.getPrivate());
        CommandVerifier verifier = CommandVerifier.of(keys.getPublic());
        List<ProducerRecord<String, byte[]>> commands = new ArrayList<>();
        DomainRef domain = DomainRef.newBuilder().setId("d").setDriver("file").setProperties(Map.of("path", "/var/lib/storagebus/d")).build();
        for (int i = 0; i < 2 * records; i++) {
            String id = UUID.randomUUID().toString();
            commands.add(new ProducerRecord<>(Topics.spmCommands("default"), id, MessageCodec.standard().encode(CreateVolume.newBuilder()
                    .setEnvelope(Envelopes.origin("default", "manager:bench", id)).setTaskId(id).setVolumeId(id).setDomain(domain)
                    .setName("disk-" + i).setVirtualSize(10L << 30).setFormat(VolumeFormat.QCOW2).setAllocation(Allocation.THIN).build())));
        }
        List<ConsumerRecord<String, byte[]>> received = new ArrayList<>();
        long signNanos = 0;
        long verifyNanos = 0;
        for (int i = 0; i < commands.size(); i++) {
            ProducerRecord<String, byte[]> r = commands.get(i);
            long t0 = System.nanoTime();
            signer.sign(r);
            long t1 = System.nanoTime();
            ConsumerRecord<String, byte[]> c = new ConsumerRecord<>(r.topic(), 0, i, r.key(), r.value());
            r.headers().forEach(h -> c.headers().add(h));
            long t2 = System.nanoTime();
            if (!verifier.verify(c)) {
                throw new IllegalStateException("record " + i + " did not verify");
            }
            long t3 = System.nanoTime();
            if (i >= records) {
                signNanos += t1 - t0;
                verifyNanos += t3 - t2;
            }
            received.add(c);
        }
        int bytes = commands.get(0).value().length;
        System.out.printf("Ed25519, %d records of %d bytes after %d for warm-up: sign %.1f us, verify %.1f us per record%n",
                records, bytes, records, signNanos / 1e3 / records, verifyNanos / 1e3 / records);
        System.out.printf("{\"records\":%d,\"recordBytes\":%d,\"signMicros\":%.1f,\"verifyMicros\":%.1f}%n",
                records, bytes, signNanos / 1e3 / records, verifyNanos / 1e3 / records);
    }
}
