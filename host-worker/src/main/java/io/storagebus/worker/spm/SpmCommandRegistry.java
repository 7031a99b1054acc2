package io.storagebus.worker.spm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.storagebus.bus.TopicMap;
import io.storagebus.leases.SpmTerm;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The SPM's commands: each command type with its handler, and whether it completes in the
 * batch's Kafka transaction ({@link #now}) or runs as a job after it ({@link #job}). A command
 * the registry does not list is not an SPM command and goes to the dead-letter topic. Adding a
 * command is its schema, its handler and one line where the registry is built
 * ({@link SpmCommandHandler}).
 */
final class SpmCommandRegistry {
    /** A command that completes in the batch: the records it publishes. Never throws for a storage failure: it reports it. */
    @FunctionalInterface
    interface Now<C> {
        List<ProducerRecord<String, byte[]>> handle(C command, SpmTerm term);
    }

    /**
     * A command that runs as a job: its acceptance and the job. May answer null for "this one
     * completes now", decided by the command alone, so a job resumed by a later term runs as it
     * was accepted.
     */
    @FunctionalInterface
    interface Later<C> {
        SpmCommandHandler.Job job(C command, SpmTerm term);
    }

    private record Entry<C extends SpecificRecord>(Class<C> type, Later<C> later, Now<C> now) {
        SpmCommandHandler.Job job(SpecificRecord command, SpmTerm term) {
            return later == null ? null : later.job(type.cast(command), term);
        }

        List<ProducerRecord<String, byte[]>> handle(SpecificRecord command, SpmTerm term) {
            if (now == null) {
                throw new IllegalStateException(type.getSimpleName() + " runs only as a job");
            }
            return now.handle(type.cast(command), term);
        }
    }

    private final Map<Class<?>, Entry<?>> entries = new LinkedHashMap<>();
    /** Jobs that only a job's own outcome puts on the jobs topic (what it continues as), never a command on the SPM's topic. */
    private final Map<Class<?>, Entry<?>> continuations = new LinkedHashMap<>();

    <C extends SpecificRecord> SpmCommandRegistry now(Class<C> type, Now<C> handler) {
        return add(new Entry<>(type, null, handler));
    }

    <C extends SpecificRecord> SpmCommandRegistry job(Class<C> type, Later<C> job) {
        return add(new Entry<>(type, job, null));
    }

    /** A command the command loop acts on itself, on its jobs (a cancellation): covered here, handled there. */
    <C extends SpecificRecord> SpmCommandRegistry forTheLoop(Class<C> type) {
        return add(new Entry<>(type, null, null));
    }

    /**
     * What a job continues as once its outcome is committed: a record it put on the jobs topic
     * under its own task id (a live move in its host's hands, say). Resumed from the jobs topic
     * like any job; refused on the SPM's command topic.
     */
    <C extends SpecificRecord> SpmCommandRegistry continuation(Class<C> type, Later<C> job) {
        if (continuations.putIfAbsent(type, new Entry<>(type, job, null)) != null) {
            throw new IllegalArgumentException(type.getSimpleName() + " is registered twice");
        }
        return this;
    }

    /** A command that runs as a job when {@code job} says so (it returns non-null), else completes now. */
    <C extends SpecificRecord> SpmCommandRegistry jobOrNow(Class<C> type, Later<C> job, Now<C> now) {
        return add(new Entry<>(type, job, now));
    }

    private SpmCommandRegistry add(Entry<?> entry) {
        if (entries.putIfAbsent(entry.type(), entry) != null) {
            throw new IllegalArgumentException(entry.type().getSimpleName() + " is registered twice");
        }
        return this;
    }

    /** Fails unless the registry handles exactly the record types the topic map puts on {@code topic}: a command nobody handles is a bug. */
    SpmCommandRegistry covering(TopicMap.Topic topic) {
        if (!entries.keySet().equals(Set.copyOf(topic.types()))) {
            throw new IllegalStateException("the SPM handles " + names(entries.keySet()) + " but " + topic.name() + " carries "
                    + names(topic.types()));
        }
        return this;
    }

    private static List<String> names(java.util.Collection<? extends Class<?>> types) {
        return types.stream().map(Class::getSimpleName).sorted().toList();
    }

    boolean handles(SpecificRecord command) {
        return entries.containsKey(command.getClass());
    }

    /** Whether a record of the jobs topic is one the SPM resumes: a command, or a continuation. */
    boolean resumes(SpecificRecord record) {
        return handles(record) || continuations.containsKey(record.getClass());
    }

    Set<Class<?>> types() {
        return Set.copyOf(entries.keySet());
    }

    /** The job a record of the jobs topic runs as: a command's, or a continuation's; null when it completes now. */
    SpmCommandHandler.Job resumed(SpecificRecord record, SpmTerm term) {
        Entry<?> continuation = continuations.get(record.getClass());
        return continuation != null ? continuation.job(record, term) : job(record, term);
    }

    /** The job the command runs as, or null when it completes now. */
    SpmCommandHandler.Job job(SpecificRecord command, SpmTerm term) {
        return entry(command).job(command, term);
    }

    /** What a command that completes now publishes. */
    List<ProducerRecord<String, byte[]>> handle(SpecificRecord command, SpmTerm term) {
        return entry(command).handle(command, term);
    }

    private Entry<?> entry(SpecificRecord command) {
        Entry<?> entry = entries.get(command.getClass());
        if (entry == null) {
            throw new IllegalArgumentException(command.getSchema().getFullName() + " is not an SPM command");
        }
        return entry;
    }
}
