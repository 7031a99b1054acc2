package io.storagebus.system;

import org.testcontainers.kafka.KafkaContainer;

/** The official Apache Kafka image in KRaft mode, started by Testcontainers. */
final class ContainerKafka implements KafkaFixture {
    static final String IMAGE = "apache/kafka:4.0.0";

    private final KafkaContainer container;

    ContainerKafka() {
        container = new KafkaContainer(IMAGE)
                .withEnv("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "1")
                .withEnv("KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS", "1")
                .withEnv("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
                .withEnv("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
                .withEnv("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false");
        container.start();
    }

    @Override
    public String bootstrapServers() {
        return container.getBootstrapServers();
    }

    @Override
    public void close() {
        container.stop();
    }
}
