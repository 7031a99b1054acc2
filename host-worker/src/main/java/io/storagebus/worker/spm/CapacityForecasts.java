package io.storagebus.worker.spm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverException;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.schema.CapacityAlert;
import io.storagebus.schema.CapacityLevel;
import io.storagebus.schema.DomainCapacity;
import io.storagebus.schema.Envelope;
import io.storagebus.worker.thin.TimeToFull;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one SPM term knows of how its domains fill: per domain a {@link FillForecast}, the alert
 * level last raised, and what the managers were last told. The extend path tells it of every
 * extend's demand and of a domain found short; it answers with what to publish: a
 * {@code CapacityAlert} when the forecast crosses a {@link TimeToFull} threshold (once per
 * crossing, not per extend), and the domain's {@code DomainCapacity} state when its level
 * changed, it filled up or got space again, or the last one is {@link #PUBLISH_EVERY} old. While
 * no extend comes, {@link #refresh} lets a fading demand or freed space clear a raised level.
 */
final class CapacityForecasts {
    private static final Logger LOG = LoggerFactory.getLogger(CapacityForecasts.class);
    /** How stale the managers' view of a busy domain may get: a boot storm would otherwise write a record per extend. */
    static final Duration PUBLISH_EVERY = Duration.ofSeconds(30);
    /** How often a quiet domain's forecast is looked at again: the demand fades with a 10-minute time constant. */
    static final Duration IDLE_EVERY = Duration.ofMinutes(2);

    private final TimeToFull thresholds;
    private final String issuer;
    private final long epoch;
    private final LongSupplier clock;
    private final Map<String, Domain> domains = new ConcurrentHashMap<>();

    /**
     * A figure of a domain's space as its storage says it: its free bytes, read under its
     * forecast's lock so that its demand, free space and level move together, or its size.
     */
    @FunctionalInterface
    interface Space {
        OptionalLong get() throws DriverException;
    }

    private static final class Domain {
        final FillForecast forecast = new FillForecast();
        CapacityLevel level = CapacityLevel.CLEARED;
        long free = -1;
        /** Where the domain's free space is read again while no extend comes. */
        Space freeSpace;
        /** Where the domain's size is read when its state is published; null until the extend path says. */
        Space size;
        /** The report whose envelope the domain's next records are caused by (their pool and correlation). */
        Envelope cause;
        String volumeId;
        long publishedNanos;
        boolean published;
        long publishedFree = -1;

        /** A state record is due when the level changed, the domain filled up or got space again, or the last one is {@code every} old. */
        boolean due(boolean levelChanged, long now, Duration every) {
            return levelChanged || !published || (free == 0) != (publishedFree == 0) || now - publishedNanos >= every.toNanos();
        }
    }

    CapacityForecasts(TimeToFull thresholds, String issuer, long epoch) {
        this(thresholds, issuer, epoch, System::nanoTime);
    }

    /** With {@code clock} for {@code System.nanoTime}: the tests' time. */
    CapacityForecasts(TimeToFull thresholds, String issuer, long epoch, LongSupplier clock) {
        this.thresholds = thresholds;
        this.issuer = issuer;
        this.epoch = epoch;
        this.clock = clock;
    }

    /** Where the domain's size is read, for the state the managers show: only when a state record is due. */
    void sizedBy(String domainId, Space size) {
        Domain d = domain(domainId);
        synchronized (d) {
            d.size = size;
        }
    }

    /**
     * An extend of {@code volumeId} in {@code domainId} asked for {@code demanded} more bytes;
     * {@code freeSpace} says what the domain has left after it. Returns what to publish.
     */
    List<ProducerRecord<String, byte[]>> extended(String domainId, String volumeId, Envelope cause, long demanded, Space freeSpace)
            throws DriverException {
        Domain d = domain(domainId);
        synchronized (d) {
            long now = clock.getAsLong();
            d.forecast.demanded(demanded, now);
            d.cause = cause;
            d.volumeId = volumeId;
            d.freeSpace = freeSpace;
            OptionalLong free = freeSpace.get();
            if (free.isEmpty()) {
                return List.of();
            }
            d.free = free.getAsLong();
            return assess(domainId, d, now);
        }
    }

    /**
     * The domain lacks space now (an extend was refused or got less than it asked): SHORT, and no
     * forecast alert until its forecast clears. Counts a refused extend's demand. Returns the
     * domain's free space (-1 if unknown), its forecast seconds to full and its state record to
     * publish, if it is due.
     */
    Short shortOfSpace(String domainId, String volumeId, Envelope cause, long refusedDemand, Space freeSpace) {
        Domain d = domain(domainId);
        synchronized (d) {
            long now = clock.getAsLong();
            if (refusedDemand > 0) {
                d.forecast.demanded(refusedDemand, now);
            }
            d.cause = cause;
            d.volumeId = volumeId;
            d.freeSpace = freeSpace;
            long free = read(domainId, freeSpace);
            if (free >= 0) {
                d.free = free;
            }
            long seconds = d.free < 0 ? -1 : d.forecast.secondsToFull(d.free, now).orElse(-1);
            boolean changed = d.level != CapacityLevel.SHORT;
            d.level = CapacityLevel.SHORT;
            List<ProducerRecord<String, byte[]>> out = new ArrayList<>(1);
            if (d.free >= 0 && d.due(changed, now, PUBLISH_EVERY)) {
                out.add(state(domainId, d, seconds, now));
            }
            return new Short(free, seconds, out);
        }
    }

    /** What {@link #shortOfSpace} found: the free space and the forecast (-1 if unknown) and the state record to publish, if due. */
    record Short(long freeBytes, long secondsToFull, List<ProducerRecord<String, byte[]>> records) {
    }

    /**
     * Looks again at the domains with a level raised that no extend touched for {@link #IDLE_EVERY}:
     * their demand fades and their free space is read again (volumes deleted, capacity added), and
     * once their forecast is past the warning threshold the level clears, SHORT too. A CLEARED
     * domain's state is left as it is: its timestamp says how old it is.
     */
    List<ProducerRecord<String, byte[]>> refresh() {
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        long now = clock.getAsLong();
        domains.forEach((domainId, d) -> {
            synchronized (d) {
                if (d.level != CapacityLevel.CLEARED && d.free >= 0 && d.due(false, now, IDLE_EVERY)) {
                    long free = read(domainId, d.freeSpace);
                    if (free >= 0) {
                        d.free = free;
                    }
                    out.addAll(assess(domainId, d, now));
                }
            }
        });
        return out;
    }

    /** The domain's free space (or size), -1 if the driver cannot say now: the forecast then keeps the last figure. */
    private static long read(String domainId, Space space) {
        try {
            return space == null ? -1 : space.get().orElse(-1);
        } catch (DriverException | RuntimeException e) {
            LOG.debug("cannot read the space of domain {}: {}", domainId, e.toString());
            return -1;
        }
    }

    private Domain domain(String domainId) {
        return domains.computeIfAbsent(domainId, id -> new Domain());
    }

    /** Under the domain's lock: the level its forecast gives, an alert if it crossed a threshold, the state if it is due. */
    private List<ProducerRecord<String, byte[]>> assess(String domainId, Domain d, long now) {
        OptionalLong toFull = d.forecast.secondsToFull(d.free, now);
        long seconds = toFull.orElse(-1);
        StorageBusMetrics.get().domainSecondsToFull(domainId, seconds);
        CapacityLevel level = toFull.isEmpty() || seconds >= thresholds.warning().toSeconds() ? CapacityLevel.CLEARED
                : seconds >= thresholds.critical().toSeconds() ? CapacityLevel.WARNING : CapacityLevel.CRITICAL;
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>(2);
        // A domain already SHORT stays so until its forecast clears: a level between would say it had space again.
        boolean crossed = level != d.level && !(d.level == CapacityLevel.SHORT && level != CapacityLevel.CLEARED);
        if (crossed) {
            d.level = level;
            out.add(alert(domainId, d, seconds));
        }
        if (d.due(crossed, now, PUBLISH_EVERY)) {
            out.add(state(domainId, d, seconds, now));
        }
        return out;
    }

    private ProducerRecord<String, byte[]> alert(String domainId, Domain d, long seconds) {
        String message = d.level == CapacityLevel.CLEARED
                ? "domain " + domainId + " is no longer forecast to fill within " + thresholds.warning().toMinutes() + " min"
                : "domain " + domainId + " will be full in about " + Math.max(1, seconds / 60) + " min at the rate its thin volumes ask "
                        + "for space (" + d.free + " bytes free); add capacity or move volumes";
        LOG.warn("epoch {}: {} ({})", epoch, message, d.level);
        return Records.of(Topics.EVENTS, domainId, CapacityAlert.newBuilder()
                .setEnvelope(Envelopes.causedBy(d.cause, issuer, epoch))
                .setDomainId(domainId).setFreeBytes(d.free).setNeededBytes(0).setVolumeId(d.volumeId)
                .setLevel(d.level).setSecondsToFull(seconds).setMessage(message).build());
    }

    private ProducerRecord<String, byte[]> state(String domainId, Domain d, long seconds, long now) {
        d.published = true;
        d.publishedNanos = now;
        d.publishedFree = d.free;
        long total = read(domainId, d.size);
        return Records.of(Topics.CAPACITY_STATE, domainId, DomainCapacity.newBuilder()
                .setEnvelope(Envelopes.causedBy(d.cause, issuer, epoch))
                .setDomainId(domainId).setFreeBytes(d.free).setDemandBytesPerSecond(Math.round(d.forecast.rateAt(now)))
                .setSecondsToFull(seconds).setLevel(d.level).setTotalBytes(total < 0 ? null : total).build());
    }
}
