package io.storagebus.worker.spm;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.BlockSizing;
import io.storagebus.leases.SpmTerm;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.CapacityAlert;
import io.storagebus.schema.CapacityLevel;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.VolumeExtendFailed;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.thin.ExtendPolicy;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the SPM does with one host's watermark report, for one term: extend the volume under the
 * term's fence and answer the host. Kafka is {@link ExtendLoop}'s; this part only turns a report
 * into the records to send, so it is the same whether the reports come from a topic or a test.
 * Safe to call from several threads for different volumes.
 */
final class VolumeExtender {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeExtender.class);

    private final WorkerConfig config;
    private final SpmTerm term;
    private final DriverRegistry drivers;
    private final ExtendPolicy policy;
    private final CapacityForecasts forecasts;

    VolumeExtender(WorkerConfig config, SpmTerm term, DriverRegistry drivers) {
        this.config = config;
        this.term = term;
        this.drivers = drivers;
        this.policy = config.extendPolicy();
        this.forecasts = new CapacityForecasts(config.timeToFull(), config.issuer(), term.epoch());
    }

    /** The time-to-full alerts and domain capacity records that have come due since the last call. */
    List<ProducerRecord<String, byte[]>> forecasts() {
        return forecasts.refresh();
    }

    /**
     * Extends the reported volume as the policy asks, if it needs it and the domain has the room
     * (or grants what there is), and says so: first the {@link RefreshVolume} for the reporting
     * host (sent even when nothing grew: the host may not have seen an earlier extend yet), then
     * the events. A driver's refusal becomes {@code VolumeExtendFailed} and, when space ran out,
     * a {@code CapacityAlert}; a {@link io.storagebus.driver.FencedException} (a newer term
     * wrote) is thrown, never answered.
     */
    List<ProducerRecord<String, byte[]>> answer(VolumeWatermark report) {
        VolumeUri uri = new VolumeUri(report.getDomain().getId(), report.getVolumeId());
        DomainContext domain = SpmDrivers.context(report.getDomain(), term);
        long wanted = report.getAllocation();
        try {
            StorageDriver driver = drivers.find(report.getDomain().getDriver()).orElseThrow(() -> new DriverException(
                    DriverException.Code.UNSUPPORTED, "host " + config.hostId() + " has no driver '" + report.getDomain().getDriver() + "'"));
            VolumeInfo info = driver.info(domain, uri);
            long current = info.allocatedSize();
            long ceiling = BlockSizing.maxSize(info.format(), info.virtualSize(), Sizes.MIB);
            long requested = 0;
            List<ProducerRecord<String, byte[]>> out = new ArrayList<>(2);
            if (current < ceiling && policy.needsExtend(current, report.getHighestOffset(), report.getWriteRate())) {
                requested = Math.min(policy.target(current, report.getHighestOffset(), report.getWriteRate()), ceiling);
                wanted = requested;
                forecasts.sizedBy(domain.id(), () -> driver.totalSpace(domain));
                OptionalLong free = driver.freeSpace(domain);
                if (free.isPresent() && free.getAsLong() < wanted - current) {
                    wanted = current + partialGrant(report, uri, domain, free.getAsLong(), wanted - current);
                    out.add(partialAlert(report, free.getAsLong(), requested - wanted));
                    out.addAll(forecasts.shortOfSpace(domain.id(), uri.volumeId(), report.getEnvelope(), 0, () -> free).records());
                }
                info = driver.extend(domain, uri, wanted);
                StorageBusMetrics.get().extendAnswered(wanted < requested ? "partial" : "extended");
                LOG.debug("epoch {}: extended {} from {} to {} bytes", term.epoch(), uri, current, info.allocatedSize());
                out.addAll(forecasts.extended(domain.id(), uri.volumeId(), report.getEnvelope(), requested - current,
                        () -> driver.freeSpace(domain)));
            } else {
                StorageBusMetrics.get().extendAnswered("unchanged");
            }
            // Answered even when nothing grew: the host may not have seen an earlier extend yet.
            Envelope envelope = Envelopes.causedBy(report.getEnvelope(), config.issuer(), term.epoch());
            out.add(0, Records.of(Topics.hostCommands(report.getHostId()), report.getVolumeId(), RefreshVolume.newBuilder()
                    .setEnvelope(envelope).setVolumeId(report.getVolumeId()).setDomain(report.getDomain()).setHostId(report.getHostId())
                    .setPreviousAllocation(report.getAllocation()).setAllocation(info.allocatedSize())
                    .setRequestedAllocation(Math.max(requested, info.allocatedSize()))
                    .setFullyAllocated(info.allocatedSize() >= ceiling).setReportedAt(report.getEnvelope().getTimestamp()).build()));
            return out;
        } catch (DriverException e) {
            return failed(report, wanted, e);
        }
    }

    /**
     * What a domain short of the policy's extend can still give: all of its free space (whole
     * MiB), if that is at least the headroom (and a MiB), so the guest gets past its threshold
     * and keeps running while space is added; less would only bring the next report at once.
     */
    private long partialGrant(VolumeWatermark report, VolumeUri uri, DomainContext domain, long free, long needed) throws DriverException {
        long grant = free / Sizes.MIB * Sizes.MIB;
        if (grant < Math.max(Sizes.MIB, policy.headroom(report.getWriteRate()))) {
            throw new DriverException(DriverException.Code.NO_SPACE, "domain " + domain.id() + " has " + free
                    + " bytes free; extending volume " + uri + " needs " + needed + ", and less than the "
                    + policy.headroom(report.getWriteRate()) + " bytes of headroom would not keep its guest going");
        }
        LOG.warn("epoch {}: domain {} has {} bytes free, less than the {} volume {} needs: extending it by what there is",
                term.epoch(), domain.id(), free, needed, uri.volumeId());
        return grant;
    }

    private ProducerRecord<String, byte[]> partialAlert(VolumeWatermark report, long free, long missing) {
        return Records.of(Topics.EVENTS, report.getDomain().getId(), CapacityAlert.newBuilder()
                .setEnvelope(Envelopes.causedBy(report.getEnvelope(), config.issuer(), term.epoch()))
                .setDomainId(report.getDomain().getId()).setFreeBytes(free).setNeededBytes(missing).setVolumeId(report.getVolumeId())
                .setLevel(CapacityLevel.SHORT).setSecondsToFull(0)
                .setMessage("domain " + report.getDomain().getId() + " had " + free + " bytes free: volume " + report.getVolumeId()
                        + " got all of it, " + missing + " bytes less than its extend asked for; add capacity or move volumes").build());
    }

    private List<ProducerRecord<String, byte[]>> failed(VolumeWatermark report, long wanted, DriverException e) {
        StorageBusMetrics.get().extendAnswered("failed");
        StorageBusMetrics.get().driverError(report.getDomain().getDriver(), e.code().name());
        LOG.error("epoch {}: cannot extend volume {} for host {}: {} {}", term.epoch(), report.getVolumeId(), report.getHostId(),
                e.code(), e.getMessage());
        Envelope envelope = Envelopes.causedBy(report.getEnvelope(), config.issuer(), term.epoch());
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        out.add(Records.of(Topics.EVENTS, report.getVolumeId(), VolumeExtendFailed.newBuilder().setEnvelope(envelope)
                .setVolumeId(report.getVolumeId()).setDomainId(report.getDomain().getId()).setHostId(report.getHostId())
                .setAllocation(report.getAllocation()).setRequested(wanted).setCode(e.code().name()).setMessage(e.getMessage()).build()));
        if (e.code() == DriverException.Code.NO_SPACE) {
            long needed = Math.max(0, wanted - report.getAllocation());
            forecasts.sizedBy(report.getDomain().getId(), () -> space(report, StorageDriver::totalSpace));
            CapacityForecasts.Short shortOfSpace = forecasts.shortOfSpace(report.getDomain().getId(), report.getVolumeId(),
                    report.getEnvelope(), needed, () -> space(report, StorageDriver::freeSpace));
            long free = shortOfSpace.freeBytes();
            out.add(Records.of(Topics.EVENTS, report.getDomain().getId(), CapacityAlert.newBuilder()
                    .setEnvelope(Envelopes.causedBy(report.getEnvelope(), config.issuer(), term.epoch()))
                    .setDomainId(report.getDomain().getId()).setFreeBytes(free).setNeededBytes(needed)
                    .setVolumeId(report.getVolumeId()).setLevel(CapacityLevel.SHORT)
                    .setSecondsToFull(shortOfSpace.secondsToFull())
                    .setMessage("domain " + report.getDomain().getId() + " cannot extend volume " + report.getVolumeId()
                            + (report.getPaused() ? "; its guest is paused" : "") + ": " + e.getMessage()).build()));
            out.addAll(shortOfSpace.records());
        }
        return out;
    }

    /** A figure a driver gives of a domain's space: its free bytes or its size. */
    @FunctionalInterface
    private interface SpaceFigure {
        OptionalLong of(StorageDriver driver, DomainContext domain) throws DriverException;
    }

    /** The figure for the report's domain, as this term's ledger has it; none when this host lacks the driver. */
    private OptionalLong space(VolumeWatermark report, SpaceFigure figure) throws DriverException {
        Optional<StorageDriver> driver = drivers.find(report.getDomain().getDriver());
        return driver.isPresent() ? figure.of(driver.get(), SpmDrivers.context(report.getDomain(), term)) : OptionalLong.empty();
    }
}
