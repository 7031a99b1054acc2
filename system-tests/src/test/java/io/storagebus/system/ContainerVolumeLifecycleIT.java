package io.storagebus.system;

import java.nio.file.Path;

import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * The same lifecycle tests on the official Kafka image. Runs where a Docker engine is available
 * and is reported as skipped where it is not (as on machines without Docker).
 */
@Testcontainers(disabledWithoutDocker = true)
class ContainerVolumeLifecycleIT extends VolumeLifecycleContract {
    @Override
    KafkaFixture kafka(Path dir) {
        return new ContainerKafka();
    }
}
