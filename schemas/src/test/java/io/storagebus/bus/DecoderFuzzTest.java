package io.storagebus.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;

/**
 * Random and mutated bytes through the decoder every StorageBus consumer uses: a record either
 * decodes, as the type its header names, or is refused with {@link UndecodableRecordException}
 * (which sends it to the dead-letter topic). Nothing else may escape: no other exception, no
 * OutOfMemoryError from a forged length, no hang. Seeded, so a failure is reproducible.
 */
class DecoderFuzzTest {
    private static final MessageCodec CODEC = MessageCodec.standard();
    private static final int ROUNDS_PER_TYPE = 400;

    @Test
    void mutatedRecordsOfEveryTypeDecodeOrAreRefusedNeverWorse() {
        Random random = new Random(20261121L);
        int decoded = 0;
        int refused = 0;
        for (Class<? extends SpecificRecord> type : MessageTypes.ALL) {
            byte[] valid = CODEC.encode(sample(type, random));
            assertEquals(type, decodeOrNull(valid).getClass(), "a sample of " + type.getSimpleName() + " round-trips");
            for (int i = 0; i < ROUNDS_PER_TYPE; i++) {
                SpecificRecord result = decodeOrNull(mutate(valid, random));
                if (result == null) {
                    refused++;
                } else {
                    decoded++;
                }
            }
        }
        System.out.printf("decoder fuzz: %d mutated records of %d types, %d decoded, %d refused%n",
                decoded + refused, MessageTypes.ALL.size(), decoded, refused);
        assertTrue(refused > 0 && decoded > 0, "the mutations must reach both outcomes");
    }

    @Test
    void randomBodiesBehindEveryKnownHeaderAreRefusedOrDecodedNeverWorse() {
        Random random = new Random(7L);
        for (Class<? extends SpecificRecord> type : MessageTypes.ALL) {
            long fingerprint = SchemaNormalization.parsingFingerprint64(MessageTypes.schemaOf(type));
            for (int i = 0; i < 100; i++) {
                byte[] body = new byte[random.nextInt(64)];
                random.nextBytes(body);
                decodeOrNull(withHeader(fingerprint, body));
            }
        }
    }

    /**
     * A forged length (a string of 1.9 GB, a collection of 2 billion items) in a record of a few
     * bytes is refused without the decoder allocating for it: one such record must not take a
     * consumer's heap, let alone its thread.
     */
    @Test
    void forgedLengthsAreRefusedWithoutAllocatingForThem() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long fingerprint = SchemaNormalization.parsingFingerprint64(MessageTypes.schemaOf(io.storagebus.schema.VolumeCreated.class));
        for (long forged : new long[] {1_900_000_000L, 200_000_000L, 20_000_000L}) {
            byte[] bytes = withHeader(fingerprint, zigZagVarint(forged)); // the envelope's first string claims that length
            long before = threads.getCurrentThreadAllocatedBytes();
            assertEquals(null, decodeOrNull(bytes), "refused");
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < 16L << 20, "a forged length of " + forged + " made the decoder allocate " + allocated + " bytes");
        }
    }

    private static byte[] zigZagVarint(long value) {
        long n = (value << 1) ^ (value >> 63);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        while ((n & ~0x7FL) != 0) {
            out.write((int) ((n & 0x7F) | 0x80));
            n >>>= 7;
        }
        out.write((int) n);
        return out.toByteArray();
    }

    /** Decodes, returning null when the codec refused; anything other than a refusal fails the test. */
    private static SpecificRecord decodeOrNull(byte[] bytes) {
        try {
            return CODEC.decode(bytes);
        } catch (UndecodableRecordException e) {
            return null;
        } catch (Throwable t) {
            // Errors too (an OutOfMemoryError from a forged length is what this test hunts): report them with the input's size.
            fail("decoding " + bytes.length + " bytes escaped with " + t, t);
            return null;
        }
    }

    /** One of: flip bits, overwrite a byte with an extreme value (forged lengths), truncate, insert, duplicate a stretch. */
    private static byte[] mutate(byte[] valid, Random random) {
        byte[] b = valid.clone();
        int body = 10; // keep the header most of the time: the body is what the decoder must survive
        int at = body + random.nextInt(Math.max(1, b.length - body));
        switch (random.nextInt(6)) {
            case 0 -> b[Math.min(at, b.length - 1)] ^= (byte) (1 << random.nextInt(8));
            case 1 -> {
                byte[] extremes = {(byte) 0xFF, (byte) 0x7F, (byte) 0x80, 0x01, 0x00, (byte) 0xFE};
                for (int k = 0; k < 1 + random.nextInt(5) && at + k < b.length; k++) {
                    b[at + k] = extremes[random.nextInt(extremes.length)];
                }
            }
            case 2 -> b = java.util.Arrays.copyOf(b, Math.max(0, at - random.nextInt(8)));
            case 3 -> {
                byte[] longer = new byte[b.length + 1 + random.nextInt(16)];
                System.arraycopy(b, 0, longer, 0, at);
                for (int k = at; k < at + longer.length - b.length; k++) {
                    longer[k] = (byte) random.nextInt(256);
                }
                System.arraycopy(b, at, longer, at + longer.length - b.length, b.length - at);
                b = longer;
            }
            case 4 -> b[random.nextInt(b.length)] = (byte) random.nextInt(256); // sometimes the header too
            default -> {
                int len = Math.min(b.length - at, 1 + random.nextInt(32));
                byte[] longer = new byte[b.length + len];
                System.arraycopy(b, 0, longer, 0, at + len);
                System.arraycopy(b, at, longer, at + len, b.length - at);
                b = longer;
            }
        }
        return b;
    }

    private static byte[] withHeader(long fingerprint, byte[] body) {
        ByteBuffer buffer = ByteBuffer.allocate(10 + body.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.put((byte) 0xC3).put((byte) 0x01).putLong(fingerprint).put(body);
        return buffer.array();
    }

    /** A record of the type with every field filled in at random, as its schema allows. */
    private static SpecificRecord sample(Class<? extends SpecificRecord> type, Random random) {
        return (SpecificRecord) value(MessageTypes.schemaOf(type), random, 0);
    }

    private static Object value(Schema schema, Random random, int depth) {
        if (schema.getLogicalType() != null && "timestamp-millis".equals(schema.getLogicalType().getName())) {
            return java.time.Instant.ofEpochMilli(random.nextLong() & 0xFFFFFFFFFFL);
        }
        return switch (schema.getType()) {
            case RECORD -> {
                SpecificRecord r = (SpecificRecord) SpecificData.get().newRecord(null, schema);
                schema.getFields().forEach(f -> r.put(f.pos(), value(f.schema(), random, depth + 1)));
                yield r;
            }
            case UNION -> {
                List<Schema> types = schema.getTypes();
                yield value(types.get(depth > 3 ? 0 : random.nextInt(types.size())), random, depth + 1);
            }
            case ENUM -> SpecificData.get().createEnum(schema.getEnumSymbols().get(random.nextInt(schema.getEnumSymbols().size())), schema);
            case ARRAY -> {
                List<Object> list = new ArrayList<>();
                for (int i = 0; i < (depth > 3 ? 0 : random.nextInt(3)); i++) {
                    list.add(value(schema.getElementType(), random, depth + 1));
                }
                yield list;
            }
            case MAP -> {
                Map<String, Object> map = new HashMap<>();
                for (int i = 0; i < random.nextInt(3); i++) {
                    map.put("k" + i, value(schema.getValueType(), random, depth + 1));
                }
                yield map;
            }
            case STRING -> "s" + Long.toHexString(random.nextLong());
            case BYTES -> ByteBuffer.wrap(new byte[] {(byte) random.nextInt(256)});
            case INT -> random.nextInt(1000);
            case LONG -> random.nextLong() & 0xFFFFFFFFFFL;
            case BOOLEAN -> random.nextBoolean();
            case DOUBLE -> random.nextDouble();
            case FLOAT -> random.nextFloat();
            case NULL -> null;
            default -> throw new IllegalArgumentException("no sample for " + schema);
        };
    }
}
