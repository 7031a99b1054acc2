package io.storagebus.bus;

import java.time.Instant;
import java.util.UUID;

import io.storagebus.schema.Envelope;

/** Builds message envelopes. */
public final class Envelopes {
    private Envelopes() {
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
