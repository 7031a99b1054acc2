package io.storagebus.bus;

import java.util.Optional;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class TaskTypeTest {
    @Test
    void everyTypeReadsBackFromTheWireAndANewerOneIsUnknownNotAnError() {
        for (TaskType type : TaskType.values()) {
            assertEquals(Optional.of(type), TaskType.of(type.name()));
        }
        assertEquals(Optional.empty(), TaskType.of("MOVE_VOLUME_LIVE"), "a type a later release adds");
        assertEquals(Optional.empty(), TaskType.of(null));
    }
}
