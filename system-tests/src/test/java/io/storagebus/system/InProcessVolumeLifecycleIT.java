package io.storagebus.system;

import java.nio.file.Path;

/** The volume lifecycle on the in-process KRaft broker: runs everywhere. */
class InProcessVolumeLifecycleIT extends VolumeLifecycleContract {
    @Override
    KafkaFixture kafka(Path dir) {
        return new InProcessKafka(dir);
    }
}
