package io.storagebus.worker.spm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.TopicMap;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.PrepareVolume;
import io.storagebus.schema.VolumeFormat;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

class SpmCommandRegistryTest {
    private static final DomainRef DOMAIN = DomainRef.newBuilder().setId("d").setDriver("file").setProperties(Map.of()).build();
    private static final CreateVolume CREATE = CreateVolume.newBuilder().setEnvelope(Envelopes.origin("default", "manager:m", "t"))
            .setTaskId("t").setVolumeId("v").setDomain(DOMAIN).setName("disk").setVirtualSize(1 << 20).setFormat(VolumeFormat.QCOW2)
            .setAllocation(Allocation.THIN).build();
    private static final List<ProducerRecord<String, byte[]>> DONE = List.of(new ProducerRecord<>("t", "k", new byte[0]));

    @Test
    void theSpmHandlesEveryCommandTheTopicMapPutsOnItsTopic() {
        SpmCommandHandler handler = new SpmCommandHandler(null, null, null);
        assertEquals(Set.copyOf(TopicMap.SPM_COMMANDS.types()), handler.commandTypes());
    }

    @Test
    void aCommandRunsNowOrAsAJobAsItWasRegistered() {
        SpmCommandHandler.Job job = new SpmCommandHandler.Job("t", List.of(), context -> List.of());
        SpmCommandRegistry now = new SpmCommandRegistry().now(CreateVolume.class, (c, term) -> DONE);
        assertNull(now.job(CREATE, null));
        assertSame(DONE, now.handle(CREATE, null));
        assertSame(job, new SpmCommandRegistry().job(CreateVolume.class, (c, term) -> job).job(CREATE, null));
        SpmCommandRegistry either = new SpmCommandRegistry().jobOrNow(CreateVolume.class, (c, term) -> null, (c, term) -> DONE);
        assertNull(either.job(CREATE, null), "the command said: now");
        assertSame(DONE, either.handle(CREATE, null));
    }

    @Test
    void anUnknownCommandOrAGapInTheMapIsRefusedLoudly() {
        SpmCommandRegistry registry = new SpmCommandRegistry().now(CreateVolume.class, (c, term) -> DONE);
        PrepareVolume prepare = PrepareVolume.newBuilder().setEnvelope(Envelopes.origin("default", "manager:m", "t")).setTaskId("t")
                .setVolumeId("v").setDomain(DOMAIN).setHostId("h").build();
        assertTrue(!registry.handles(prepare));
        assertThrows(IllegalArgumentException.class, () -> registry.job(prepare, null));
        assertThrows(IllegalStateException.class, () -> registry.covering(TopicMap.SPM_COMMANDS));
        assertThrows(IllegalArgumentException.class, () -> registry.now(CreateVolume.class, (c, term) -> DONE), "registered twice");
    }
}
