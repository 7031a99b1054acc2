package io.storagebus.manager.requests;

import io.storagebus.schema.Envelope;

/**
 * Who makes a request: stamps the envelope of the records it leads to. An HTTP request also
 * hands the correlation id back to its client; the backup schedule names itself as the issuer.
 */
@FunctionalInterface
public interface Origin {
    Envelope envelope(String pool, String correlationId);
}
