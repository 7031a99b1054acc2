package io.storagebus.bus;

import java.nio.charset.StandardCharsets;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;

/** Producer records as every StorageBus process writes them: encoded, typed by header, keyed by what they describe. */
public final class Records {
    private static final MessageCodec CODEC = MessageCodec.standard();

    /** Dead-letter headers: why the record was set aside, where it was read, and who set it aside. */
    public static final String DLQ_REASON = "sb-dlq-reason";
    public static final String DLQ_SOURCE = "sb-dlq-source";
    public static final String DLQ_BY = "sb-dlq-by";

    private Records() {
    }

    public static ProducerRecord<String, byte[]> of(String topic, String key, SpecificRecord value) {
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, CODEC.encode(value));
        r.headers().add(Topics.TYPE_HEADER, value.getSchema().getFullName().getBytes(StandardCharsets.UTF_8));
        return r;
    }

    /** The original bytes, untouched, with why, where they were read and by whom ({@code host:<id>}, {@code manager:<id>}, ...). */
    public static ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, String reason, String by) {
        ProducerRecord<String, byte[]> r = new ProducerRecord<>(Topics.DEAD_LETTER, record.key(), record.value());
        for (Header h : record.headers()) {
            r.headers().add(h);
        }
        r.headers().add(DLQ_REASON, reason.getBytes(StandardCharsets.UTF_8));
        r.headers().add(DLQ_SOURCE, (record.topic() + "-" + record.partition() + "@" + record.offset()).getBytes(StandardCharsets.UTF_8));
        r.headers().add(DLQ_BY, by.getBytes(StandardCharsets.UTF_8));
        return r;
    }
}
