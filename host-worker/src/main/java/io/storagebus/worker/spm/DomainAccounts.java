package io.storagebus.worker.spm;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.DomainState;
import io.storagebus.worker.WorkerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When an SPM term starts, learns the pool's storage domains from the domains' state topic and
 * asks the driver of each that can extend for its free space under the term's epoch, one domain
 * after another on a thread of its own. A domain's capacity ledger account (a scan of every
 * volume of the domain, about a second at 10,000 volumes) is then built before a report needs
 * it, instead of by the first extend of a storm while the domain's other extends wait, which is
 * what a failover in the middle of a storm paid.
 */
final class DomainAccounts {
    private static final Logger LOG = LoggerFactory.getLogger(DomainAccounts.class);

    private final WorkerConfig config;
    private final SpmTerm term;
    private final DriverRegistry drivers;
    private final MessageCodec codec = MessageCodec.standard();
    private final CountDownLatch closed = new CountDownLatch(1);
    private final Thread thread;

    DomainAccounts(WorkerConfig config, SpmTerm term, DriverRegistry drivers) {
        this.config = config;
        this.term = term;
        this.drivers = drivers;
        this.thread = new Thread(this::run, "spm-" + term.pool() + "-domain-accounts-epoch-" + term.epoch());
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Stops after the domain being read, if any; the term's extends build what is left when they need it. */
    void close() {
        closed.countDown();
    }

    /** Returns once every domain is read or the reading stopped. */
    void awaitDone() throws InterruptedException {
        thread.join();
    }

    private void run() {
        long started = System.nanoTime();
        List<DomainRef> domains;
        try {
            domains = poolDomains();
        } catch (KafkaException e) {
            LOG.warn("epoch {}: cannot read the pool's domains from {} ({}); each domain's free space is read when an extend first needs it",
                    term.epoch(), Topics.DOMAIN_STATE, e.toString());
            return;
        }
        int read = 0;
        for (DomainRef domain : domains) {
            if (closed.getCount() == 0) {
                return;
            }
            Optional<StorageDriver> driver = drivers.find(domain.getDriver());
            if (driver.isEmpty() || !driver.get().capabilities().contains(Capability.EXTENDABLE)) {
                continue;
            }
            try {
                driver.get().freeSpace(SpmDrivers.context(domain, term));
                read++;
            } catch (DriverException | RuntimeException e) {
                LOG.warn("epoch {}: cannot read the free space of domain {} at the term's start: {}", term.epoch(), domain.getId(),
                        e.getMessage());
            }
        }
        LOG.info("epoch {}: free space of {} of the pool's {} domains read at the term's start in {} ms", term.epoch(), read,
                domains.size(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    /** The domains the state topic holds for this term's pool; a record that does not decode is skipped. */
    private List<DomainRef> poolDomains() {
        Map<String, byte[]> states;
        try (KafkaConsumer<String, byte[]> reader = new KafkaConsumer<>(KafkaClients.consumer(config.spmKafka()))) {
            states = KafkaClients.latestByKey(reader, Topics.DOMAIN_STATE, closed);
        }
        List<DomainRef> domains = new ArrayList<>();
        states.forEach((id, value) -> {
            try {
                if (codec.decode(value) instanceof DomainState state && term.pool().equals(state.getEnvelope().getPool())) {
                    domains.add(DomainRef.newBuilder().setId(state.getId()).setDriver(state.getDriver())
                            .setProperties(state.getProperties()).build());
                }
            } catch (UndecodableRecordException e) {
                LOG.warn("epoch {}: skipped domain {} of {}: {}", term.epoch(), id, Topics.DOMAIN_STATE, e.getMessage());
            }
        });
        return domains;
    }
}
