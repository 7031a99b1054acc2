package io.storagebus.bus;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.SystemLimitException;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * Avro single-object encoding of StorageBus messages: {@code C3 01}, the 8-byte little-endian
 * CRC-64-AVRO fingerprint of the writer's schema, then the Avro binary body. The fingerprint says
 * which message type (and which version of it) the bytes hold, so several types share a topic
 * and no schema registry is needed. Thread-safe.
 */
public final class MessageCodec {
    private static final int HEADER_LENGTH = 10;
    /** Longest string or bytes field a record may hold: far above any StorageBus field, far below a heap. */
    static final int MAX_FIELD_BYTES = 8 << 20;
    /** Most items an array or map field may hold. */
    static final int MAX_COLLECTION_ITEMS = 100_000;

    static {
        // Avro allocates a field as long as its length prefix says before it finds the record shorter, so a forged
        // record of a dozen bytes could claim gigabytes of a consumer's heap. Its limits must be set before Avro reads
        // them (when it first checks one); an operator's own setting of these properties wins.
        limit(SystemLimitException.MAX_STRING_LENGTH_PROPERTY, MAX_FIELD_BYTES);
        limit(SystemLimitException.MAX_BYTES_LENGTH_PROPERTY, MAX_FIELD_BYTES);
        limit(SystemLimitException.MAX_COLLECTION_LENGTH_PROPERTY, MAX_COLLECTION_ITEMS);
    }

    private static final MessageCodec STANDARD = new MessageCodec();

    private static void limit(String property, int value) {
        if (System.getProperty(property) == null) {
            System.setProperty(property, Integer.toString(value));
        }
    }

    private final Map<Class<?>, BinaryMessageEncoder<SpecificRecord>> encoders = new HashMap<>();
    private final Map<Long, BinaryMessageDecoder<SpecificRecord>> decoders = new HashMap<>();
    private final Map<Long, String> typeNames = new HashMap<>();

    private MessageCodec() {
        for (Class<? extends SpecificRecord> type : MessageTypes.ALL) {
            Schema current = MessageTypes.schemaOf(type);
            SpecificData model = SpecificData.getForClass(type);
            encoders.put(type, new BinaryMessageEncoder<>(model, current));
            BinaryMessageDecoder<SpecificRecord> decoder = new BinaryMessageDecoder<>(model, current);
            register(current, decoder);
            for (Schema old : MessageTypes.history(current)) {
                decoder.addSchema(old);
                register(old, decoder);
            }
        }
    }

    private void register(Schema schema, BinaryMessageDecoder<SpecificRecord> decoder) {
        long fingerprint = SchemaNormalization.parsingFingerprint64(schema);
        decoders.put(fingerprint, decoder);
        typeNames.put(fingerprint, schema.getFullName());
    }

    /** The codec that knows every type in {@link MessageTypes#ALL} and its released versions. */
    public static MessageCodec standard() {
        return STANDARD;
    }

    public byte[] encode(SpecificRecord record) {
        BinaryMessageEncoder<SpecificRecord> encoder = encoders.get(record.getClass());
        if (encoder == null) {
            throw new IllegalArgumentException(record.getClass().getName() + " is not a StorageBus message type");
        }
        try {
            ByteBuffer buffer = encoder.encode(record);
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            return bytes;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot encode " + record.getSchema().getFullName(), e);
        }
    }

    public SpecificRecord decode(byte[] bytes) throws UndecodableRecordException {
        if (bytes == null) {
            throw new UndecodableRecordException("record has no value", null);
        }
        if (bytes.length < HEADER_LENGTH || bytes[0] != (byte) 0xC3 || bytes[1] != (byte) 0x01) {
            throw new UndecodableRecordException(
                    "not Avro single-object encoded (expected header C3 01 and an 8-byte schema fingerprint)", null);
        }
        long fingerprint = ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        BinaryMessageDecoder<SpecificRecord> decoder = decoders.get(fingerprint);
        if (decoder == null) {
            throw new UndecodableRecordException(
                    String.format("unknown schema fingerprint %016x: not a StorageBus message type this reader knows", fingerprint), null);
        }
        try {
            return decoder.decode(bytes);
        } catch (IOException | RuntimeException e) {
            throw new UndecodableRecordException(
                    "corrupt " + typeNames.get(fingerprint) + " body: " + e.getMessage(), e);
        }
    }

    /** The full Avro name of the type the bytes claim to be, or null if the header is not ours. */
    public String typeName(byte[] bytes) {
        if (bytes == null || bytes.length < HEADER_LENGTH) {
            return null;
        }
        return typeNames.get(ByteBuffer.wrap(bytes, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
    }
}
