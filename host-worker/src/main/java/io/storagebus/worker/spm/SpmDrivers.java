package io.storagebus.worker.spm;

import java.util.List;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Records;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.Epoch;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.SnapshotInfo;
import io.storagebus.driver.StorageDriver;
import io.storagebus.leases.SpmTerm;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.SnapshotRef;
import io.storagebus.worker.WorkerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What every SPM command handler needs: the drivers, the term's view of a domain, envelopes, dead letters. */
final class SpmDrivers {
    private static final Logger LOG = LoggerFactory.getLogger(SpmDrivers.class);

    private final WorkerConfig config;
    private final DriverRegistry drivers;

    SpmDrivers(WorkerConfig config, DriverRegistry drivers) {
        this.config = config;
        this.drivers = drivers;
    }

    WorkerConfig config() {
        return config;
    }

    StorageDriver driver(DomainRef domain) throws DriverException {
        return drivers.find(domain.getDriver()).orElseThrow(() -> new DriverException(DriverException.Code.UNSUPPORTED,
                "host " + config.hostId() + " has no driver '" + domain.getDriver() + "'"));
    }

    /** The domain under this term's epoch: the storage refuses the write if a newer term has written. */
    static DomainContext context(DomainRef domain, SpmTerm term) {
        return new DomainContext(domain.getId(), domain.getProperties(), Epoch.of(term.epoch()));
    }

    /** The envelope of what the SPM publishes in answer to a command. */
    Envelope answer(Envelope command, SpmTerm term) {
        return Envelopes.causedBy(command, config.issuer(), term.epoch());
    }

    /**
     * Counts a driver failure. (A fenced write is no failure of the storage: it is a
     * {@link io.storagebus.driver.FencedException}, which no handler catches, and ends the term's loop.)
     */
    static void failedOn(DomainRef domain, DriverException e, SpmTerm term) {
        StorageBusMetrics.get().driverError(domain.getDriver(), e.code().name());
    }

    static List<SnapshotRef> snapshotRefs(List<SnapshotInfo> snapshots) {
        return snapshots.stream().map(s -> SnapshotRef.newBuilder().setSnapshotId(s.snapshotId()).setName(s.name())
                .setStatus(s.status().name()).setParentSnapshotId(s.parentSnapshotId())
                .setCreatedAt(java.time.Instant.ofEpochMilli(s.createdAt())).build()).toList();
    }

    static io.storagebus.driver.VolumeFormat driverFormat(io.storagebus.schema.VolumeFormat format) {
        return io.storagebus.driver.VolumeFormat.valueOf(format.name());
    }

    static io.storagebus.schema.VolumeFormat schemaFormat(io.storagebus.driver.VolumeFormat format) {
        return io.storagebus.schema.VolumeFormat.valueOf(format.name());
    }

    static io.storagebus.driver.Allocation driverAllocation(io.storagebus.schema.Allocation allocation) {
        return io.storagebus.driver.Allocation.valueOf(allocation.name());
    }

    ProducerRecord<String, byte[]> deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
        StorageBusMetrics.get().deadLettered();
        LOG.warn("dead-lettering {}-{}@{}: {}", record.topic(), record.partition(), record.offset(), reason);
        return Records.deadLetter(record, reason, config.issuer());
    }
}
