package io.storagebus.worker;

import java.util.Optional;
import java.util.Set;

import io.storagebus.bus.CommandVerifier;
import io.storagebus.schema.DeleteBackup;
import io.storagebus.schema.DeleteSnapshot;
import io.storagebus.schema.DeleteVolume;
import io.storagebus.schema.DisconnectDomain;
import io.storagebus.schema.Envelope;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Who may make a worker destroy something. A command that deletes a volume, a snapshot or a
 * backup, or disconnects a domain for maintenance, is carried out only when its envelope names a
 * manager as the issuer and, where the workers trust the managers' keys, when a manager signed
 * it. So a compromised subscriber or host, which may write to some topic, cannot wipe volumes
 * through the bus: its command is refused and reported. Other commands need no signature: they
 * create, prepare or move data, and the SPM and hosts send some of them to each other.
 */
public final class IssuerPolicy {
    static final Set<Class<? extends SpecificRecord>> DESTRUCTIVE = Set.of(DeleteVolume.class, DeleteSnapshot.class, DeleteBackup.class,
            DisconnectDomain.class);
    /** The code of the CommandFailed event that reports a refused command. */
    public static final String REFUSED = "UNTRUSTED_ISSUER";
    private static final String MANAGER_ISSUER = "manager:";

    private final CommandVerifier verifier;

    private IssuerPolicy(CommandVerifier verifier) {
        this.verifier = verifier;
    }

    /** Destructive commands need a manager issuer and a signature by one of {@code verifier}'s keys. */
    public static IssuerPolicy signedBy(CommandVerifier verifier) {
        return new IssuerPolicy(java.util.Objects.requireNonNull(verifier, "verifier"));
    }

    /** Destructive commands need a manager issuer only: for tests, the dev mode, and a broker only StorageBus can write to. */
    public static IssuerPolicy unsigned() {
        return new IssuerPolicy(null);
    }

    public boolean checksSignatures() {
        return verifier != null;
    }

    /** Why the command must not be carried out, if it must not. */
    public Optional<String> refusal(ConsumerRecord<String, byte[]> record, SpecificRecord command, Envelope envelope) {
        if (!DESTRUCTIVE.contains(command.getClass())) {
            return Optional.empty();
        }
        String type = command.getSchema().getName();
        String issuer = envelope == null ? null : envelope.getIssuer();
        if (issuer == null || !issuer.startsWith(MANAGER_ISSUER)) {
            return Optional.of(type + " from '" + issuer + "' refused: only a manager may destroy or disconnect storage");
        }
        if (verifier != null && !verifier.verify(record)) {
            return Optional.of(type + " claiming to be from '" + issuer + "' refused: it is not signed by a trusted manager key");
        }
        return Optional.empty();
    }
}
