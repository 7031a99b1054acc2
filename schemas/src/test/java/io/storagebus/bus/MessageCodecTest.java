package io.storagebus.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import io.storagebus.schema.Allocation;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.VolumeFormat;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;

class MessageCodecTest {
    private final MessageCodec codec = MessageCodec.standard();

    static CreateVolume sampleCommand() {
        return CreateVolume.newBuilder()
                .setEnvelope(Envelopes.origin("default", "manager", "task-1"))
                .setTaskId("task-1")
                .setVolumeId("vol-1")
                .setDomain(DomainRef.newBuilder().setId("dom-1").setDriver("file").setProperties(Map.of("path", "/srv")).build())
                .setName("v1")
                .setVirtualSize(1L << 30)
                .setFormat(VolumeFormat.QCOW2)
                .setAllocation(Allocation.THIN)
                .build();
    }

    @Test
    void roundTripKeepsTypeAndContent() throws Exception {
        CreateVolume command = sampleCommand();
        byte[] bytes = codec.encode(command);
        assertEquals((byte) 0xC3, bytes[0]);
        assertEquals((byte) 0x01, bytes[1]);
        SpecificRecord decoded = codec.decode(bytes);
        assertEquals(command, decoded);
        assertEquals(CreateVolume.class.getName(), codec.typeName(bytes));
    }

    @Test
    void plainTextIsRefusedWithReason() {
        var e = assertThrows(UndecodableRecordException.class, () -> codec.decode("{\"json\":true}".getBytes()));
        assertTrue(e.getMessage().contains("single-object"), e.getMessage());
    }

    @Test
    void unknownFingerprintIsRefusedWithReason() {
        byte[] bytes = codec.encode(sampleCommand());
        bytes[5] ^= 0x55;
        var e = assertThrows(UndecodableRecordException.class, () -> codec.decode(bytes));
        assertTrue(e.getMessage().contains("unknown schema fingerprint"), e.getMessage());
    }

    @Test
    void truncatedBodyIsRefusedWithReason() {
        byte[] bytes = codec.encode(sampleCommand());
        byte[] cut = Arrays.copyOf(bytes, 14);
        var e = assertThrows(UndecodableRecordException.class, () -> codec.decode(cut));
        assertTrue(e.getMessage().contains("corrupt io.storagebus.schema.CreateVolume"), e.getMessage());
    }

    @Test
    void randomBytesNeverEscapeAsAnythingButUndecodable() throws Exception {
        Random random = new Random(42);
        byte[] valid = codec.encode(sampleCommand());
        int refused = 0;
        for (int i = 0; i < 2000; i++) {
            byte[] mutated = valid.clone();
            // Keep the header on half the inputs so the body decoder is exercised too.
            int from = i % 2 == 0 ? 10 : 0;
            for (int k = 0; k < 1 + random.nextInt(4); k++) {
                mutated[from + random.nextInt(mutated.length - from)] = (byte) random.nextInt();
            }
            try {
                codec.decode(mutated);
            } catch (UndecodableRecordException expected) {
                refused++;
            }
        }
        assertTrue(refused > 500, "most mutations must be refused, were " + refused);
        assertEquals(codec.decode(valid), codec.decode(valid.clone()));
    }

    @Test
    void recordWrittenWithAnOlderReleasedSchemaStillDecodes() throws Exception {
        org.apache.avro.Schema v1 = MessageTypes.history(io.storagebus.schema.TaskState.getClassSchema()).get(0);
        org.apache.avro.generic.GenericRecord old = new org.apache.avro.generic.GenericData.Record(v1);
        org.apache.avro.generic.GenericRecord envelope = new org.apache.avro.generic.GenericData.Record(v1.getField("envelope").schema());
        envelope.put("id", "e1");
        envelope.put("correlationId", "t1");
        envelope.put("pool", "default");
        envelope.put("issuer", "manager:old");
        envelope.put("timestamp", 1_700_000_000_000L);
        old.put("envelope", envelope);
        old.put("id", "t1");
        old.put("type", "CREATE_VOLUME");
        old.put("status", new org.apache.avro.generic.GenericData.EnumSymbol(v1.getField("status").schema(), "SUCCEEDED"));
        old.put("createdAt", 1_700_000_000_000L);
        byte[] bytes = new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
                org.apache.avro.generic.GenericData.get(), v1).encode(old).array();

        io.storagebus.schema.TaskState decoded = (io.storagebus.schema.TaskState) codec.decode(bytes);
        assertEquals("t1", decoded.getId());
        assertEquals(io.storagebus.schema.TaskStatus.SUCCEEDED, decoded.getStatus());
        assertEquals(null, decoded.getDoneBytes(), "fields added in v2 take their defaults");
    }
}
