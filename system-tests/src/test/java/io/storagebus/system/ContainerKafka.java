package io.storagebus.system;

import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * Kafka in KRaft mode in a container, started by Testcontainers: the official image where it can
 * be pulled, else CI's image of the same Kafka, a compatible substitute (DockerImages).
 */
final class ContainerKafka implements KafkaFixture {
    private final KafkaContainer container;

    ContainerKafka() {
        DockerImageName image = DockerImageName.parse(DockerImages.kafka()).asCompatibleSubstituteFor("apache/kafka");
        container = new KafkaContainer(image)
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
