package io.storagebus.manager.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Instant;

import io.storagebus.schema.Allocation;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.VolumeCreated;
import io.storagebus.schema.VolumeFormat;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

class EventJsonTest {
    @Test
    void aRecordBecomesItsFieldsWithPlainValues() {
        VolumeCreated created = VolumeCreated.newBuilder()
                .setEnvelope(Envelope.newBuilder().setId("e").setCorrelationId("t").setPool("default").setIssuer("host:h")
                        .setTimestamp(Instant.ofEpochMilli(1_700_000_000_123L)).setSpmEpoch(4L).build())
                .setTaskId("t").setVolumeId("v").setDomainId("d").setName("disk").setVirtualSize(1L << 30)
                .setFormat(VolumeFormat.QCOW2).setAllocation(Allocation.THIN).setUri("file:///v").setHostId("h").build();
        JsonObject json = EventJson.of(created);
        assertEquals("QCOW2", json.getString("format"));
        assertEquals(1L << 30, json.getLong("virtualSize"));
        JsonObject envelope = json.getJsonObject("envelope");
        assertEquals(1_700_000_000_123L, envelope.getLong("timestamp"), "a timestamp as its Avro value, milliseconds");
        assertEquals(4L, envelope.getLong("spmEpoch"), "a union as its value, not wrapped in its branch");
        assertNull(envelope.getValue("causationId"));
        assertEquals("default", envelope.getString("pool"));
    }
}
