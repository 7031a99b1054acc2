package io.storagebus.system;

/** A Kafka broker the system tests run against: in-process, or a container where Docker exists. */
interface KafkaFixture extends AutoCloseable {

    String bootstrapServers();

    @Override
    void close();
}
