package io.storagebus.bus;

import java.time.Instant;
import java.util.UUID;

import io.storagebus.schema.Envelope;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecord;

/** Builds message envelopes. */
public final class Envelopes {
    private Envelopes() {
    }

    /** The envelope a command or event carries in its {@code envelope} field, or null if it has none. */
    public static Envelope of(SpecificRecord record) {
        Schema.Field field = record.getSchema().getField("envelope");
        return field != null && record.get(field.pos()) instanceof Envelope e ? e : null;
    }

    /** The envelope of a new request: its correlation id is the given task id. */
    public static Envelope origin(String pool, String issuer, String correlationId) {
        return Envelope.newBuilder()
                .setId(UUID.randomUUID().toString())
                .setCorrelationId(correlationId)
                .setPool(pool)
                .setIssuer(issuer)
                .setTimestamp(Instant.now())
                .build();
    }

    /** The envelope of a message caused by {@code cause}, stamped with the producing SPM's epoch. */
    public static Envelope causedBy(Envelope cause, String issuer, Long spmEpoch) {
        return Envelope.newBuilder()
                .setId(UUID.randomUUID().toString())
                .setCorrelationId(cause.getCorrelationId())
                .setCausationId(cause.getId())
                .setPool(cause.getPool())
                .setIssuer(issuer)
                .setTimestamp(Instant.now())
                .setSpmEpoch(spmEpoch)
                .build();
    }
}
