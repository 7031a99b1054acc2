package io.storagebus.system;

import java.nio.file.Path;

/**
 * The same lifecycle tests on Kafka in a container (Testcontainers). CI runs them with its Docker
 * engine; elsewhere they are skipped where no engine runs.
 */
class ContainerVolumeLifecycleIT extends VolumeLifecycleContract {
    @Override
    KafkaFixture kafka(Path dir) {
        DockerImages.requireEngine();
        return new ContainerKafka();
    }
}
