package io.storagebus.worker;

import java.util.Objects;
import java.util.Optional;

import io.storagebus.bus.CommandVerifier;
import io.storagebus.bus.TopicMap;
import io.storagebus.schema.Envelope;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Who may command a worker. Hosts send each other four messages only: the SPM tells a host to
 * refresh an extended volume, switch its guest to a new layer or stream a layer away, and the
 * host answers that a layer change is done; those name a host as their issuer. Every other
 * command (create, delete, prepare, tear down, back up, disconnect a domain for maintenance...)
 * is carried out only when its envelope names a manager and, where the workers trust the
 * managers' keys, a manager signed it. So a compromised subscriber or host, which may write to
 * some topic, can neither destroy a volume nor make a worker create one in a place of its
 * choosing: the command is refused and reported.
 */
public final class IssuerPolicy {
    /** The code of the CommandFailed event that reports a refused command. */
    public static final String REFUSED = "UNTRUSTED_ISSUER";

    private final CommandVerifier verifier;

    private IssuerPolicy(CommandVerifier verifier) {
        this.verifier = verifier;
    }

    /** A manager's command needs a manager issuer and a signature by one of {@code verifier}'s keys. */
    public static IssuerPolicy signedBy(CommandVerifier verifier) {
        return new IssuerPolicy(Objects.requireNonNull(verifier, "verifier"));
    }

    /** A manager's command needs a manager issuer only: for tests, the dev mode, and a broker only StorageBus can write to. */
    public static IssuerPolicy unsigned() {
        return new IssuerPolicy(null);
    }

    /**
     * Why the command must not be carried out, if it must not. Who may send it is the topic
     * map's word; a command the map does not put on the record's topic is held to a manager's.
     */
    public Optional<String> refusal(ConsumerRecord<String, byte[]> record, SpecificRecord command, Envelope envelope) {
        String type = command.getSchema().getName();
        String issuer = envelope == null ? null : envelope.getIssuer();
        TopicMap.Writer sender = TopicMap.of(record.topic()).flatMap(t -> t.writerOf(command.getClass())).orElse(TopicMap.Writer.MANAGER);
        if (sender == TopicMap.Writer.HOST) {
            return sender.issued(issuer) ? Optional.empty() : Optional.of(type + " from '" + issuer + "' refused: only a host sends it");
        }
        if (!TopicMap.Writer.MANAGER.issued(issuer)) {
            return Optional.of(type + " from '" + issuer + "' refused: only a manager may send it");
        }
        if (verifier != null && !verifier.verify(record)) {
            return Optional.of(type + " claiming to be from '" + issuer + "' refused: it is not signed by a trusted manager key");
        }
        return Optional.empty();
    }
}
