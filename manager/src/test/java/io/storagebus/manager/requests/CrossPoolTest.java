package io.storagebus.manager.requests;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Instant;
import java.util.Map;

import io.storagebus.bus.Envelopes;
import io.storagebus.schema.DomainState;
import io.storagebus.schema.DomainStatus;
import org.junit.jupiter.api.Test;

class CrossPoolTest {
    @Test
    void aTargetInAnotherPoolIsRefusedNamingBothPools() {
        DomainState backups = domain("backups", "east");
        RequestException.Invalid e = assertThrows(RequestException.Invalid.class,
                () -> Resources.requireSamePool(backups, "backup domain", domain("files", "west"), "volume"));
        assertEquals("CROSS_POOL", e.code());
        assertEquals("targetDomainId", e.field());
        assertEquals("the backup domain is in pool 'east', the volume in pool 'west'", e.getMessage());
        assertDoesNotThrow(() -> Resources.requireSamePool(backups, "backup domain", domain("files", "east"), "volume"));
    }

    private static DomainState domain(String name, String pool) {
        return DomainState.newBuilder().setEnvelope(Envelopes.origin(pool, "test", name)).setId(name).setName(name).setDriver("file")
                .setProperties(Map.of()).setStatus(DomainStatus.ACTIVE).setCreatedAt(Instant.now()).build();
    }
}
