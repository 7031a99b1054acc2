package io.storagebus.worker;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Topics;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.CommandFailed;
import io.storagebus.schema.Envelope;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.slf4j.MDC;

/**
 * Carries out one command with its ids in the log context ({@code correlationId}, the task id of
 * the user's request, and {@code commandId}), so a JSON log line can be followed from the REST
 * request to this worker and back, and times it from its issue to its outcome.
 */
public final class CommandTrace {
    public static final String CORRELATION_ID = "correlationId";
    public static final String COMMAND_ID = "commandId";
    private static final byte[] FAILED_TYPE = CommandFailed.getClassSchema().getFullName().getBytes(StandardCharsets.UTF_8);

    private CommandTrace() {
    }

    /** Runs {@code work} for {@code command}; the outcome is "failed" when its records include a CommandFailed. */
    public static <T> T run(SpecificRecord command, Supplier<T> work, Function<T, List<ProducerRecord<String, byte[]>>> records) {
        Envelope envelope = Envelopes.of(command);
        if (envelope == null) {
            return work.get();
        }
        try (MDC.MDCCloseable c = MDC.putCloseable(CORRELATION_ID, envelope.getCorrelationId());
             MDC.MDCCloseable i = MDC.putCloseable(COMMAND_ID, envelope.getId())) {
            T result = work.get();
            boolean failed = records.apply(result).stream().anyMatch(CommandTrace::isFailure);
            StorageBusMetrics.get().commandDone(command.getSchema().getName(), failed ? "failed" : "ok",
                    Duration.between(envelope.getTimestamp(), Instant.now()).toNanos() / 1e9);
            return result;
        }
    }

    private static boolean isFailure(ProducerRecord<String, byte[]> record) {
        Header type = record.headers().lastHeader(Topics.TYPE_HEADER);
        return type != null && java.util.Arrays.equals(type.value(), FAILED_TYPE);
    }
}
