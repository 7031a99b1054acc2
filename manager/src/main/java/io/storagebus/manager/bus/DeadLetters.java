package io.storagebus.manager.bus;

import java.time.Duration;

import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Records;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Sets aside records the manager read but cannot use, on the dead-letter topic, with the reason. */
public final class DeadLetters implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DeadLetters.class);

    private final KafkaProducer<String, byte[]> producer;
    private final String by;

    public DeadLetters(KafkaConnection kafka, String managerId) {
        this.producer = new KafkaProducer<>(KafkaClients.producer(kafka));
        this.by = "manager:" + managerId;
    }

    public void send(ConsumerRecord<String, byte[]> record, String reason) {
        producer.send(Records.deadLetter(record, reason, by), (metadata, e) -> {
            if (e != null) {
                LOG.error("{}-{}@{} could not be dead-lettered ({}): {}", record.topic(), record.partition(), record.offset(), reason, e.toString());
            }
        });
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
