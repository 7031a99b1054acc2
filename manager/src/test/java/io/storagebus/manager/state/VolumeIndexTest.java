package io.storagebus.manager.state;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

import io.storagebus.bus.Envelopes;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import org.junit.jupiter.api.Test;

class VolumeIndexTest {
    private final VolumeIndex index = new VolumeIndex();

    private static VolumeState volume(String id, String domain, String name, VolumeStatus status, String parent) {
        return VolumeState.newBuilder().setEnvelope(Envelopes.origin("default", "manager:m", "t")).setId(id).setDomainId(domain)
                .setName(name).setVirtualSize(1 << 20).setFormat(VolumeFormat.QCOW2).setAllocation(Allocation.THIN).setStatus(status)
                .setTaskId("t").setCreatedAt(Instant.now()).setParentVolumeId(parent).build();
    }

    @Test
    void aNameIsTakenInItsDomainOnlyAndAFailedVolumeGivesItBack() {
        VolumeState disk = volume("v1", "d1", "disk", VolumeStatus.CREATING, null);
        index.changed(null, disk);
        assertEquals(Optional.of("v1"), index.named("d1", "disk"));
        assertEquals(Optional.empty(), index.named("d2", "disk"), "another domain may use the name");
        VolumeState failed = VolumeState.newBuilder(disk).setStatus(VolumeStatus.FAILED).build();
        index.changed(disk, failed);
        assertEquals(Optional.empty(), index.named("d1", "disk"));
        assertEquals(List.of(failed), index.inDomain("d1"), "a failed volume is still listed");
        VolumeState again = volume("v2", "d1", "disk", VolumeStatus.READY, null);
        index.changed(null, again);
        assertEquals(Optional.of("v2"), index.named("d1", "disk"));
        index.changed(failed, null);
        assertEquals(Optional.of("v2"), index.named("d1", "disk"), "removing the failed one keeps the new owner's name");
        assertEquals(List.of(again), index.inDomain("d1"));
    }

    @Test
    void clonesAreFoundByTheirTemplateUntilTheyGo() {
        VolumeState clone = volume("c1", "d1", "clone", VolumeStatus.READY, "t1");
        index.changed(null, clone);
        assertEquals(List.of("c1"), index.clonesOf("t1"));
        VolumeState deleting = VolumeState.newBuilder(clone).setStatus(VolumeStatus.DELETING).build();
        index.changed(clone, deleting);
        assertEquals(List.of("c1"), index.clonesOf("t1"), "an update keeps it");
        assertEquals(List.of(deleting), index.inDomain("d1"), "listed once, as it is now");
        index.changed(deleting, null);
        assertEquals(List.of(), index.clonesOf("t1"));
        assertEquals(List.of(), index.inDomain("d1"));
    }
}
