package io.storagebus.system;

import java.nio.file.Path;

import io.storagebus.testkit.EmbeddedKafka;

/** The in-process KRaft broker of the test kit. */
final class InProcessKafka implements KafkaFixture {
    private final EmbeddedKafka kafka;

    InProcessKafka(Path dir) {
        this.kafka = new EmbeddedKafka(dir, 0).start();
    }

    @Override
    public String bootstrapServers() {
        return kafka.bootstrapServers();
    }

    /** Stops the broker, keeping its data and ports, as a crash or maintenance would. */
    void stop() {
        kafka.stop();
    }

    void start() {
        kafka.start();
    }

    @Override
    public void close() {
        kafka.close();
    }
}
