package io.storagebus.worker.spm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.storagebus.bus.ConsumerLoop;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.driver.FencedException;
import io.storagebus.metrics.StorageBusMetrics;
import io.storagebus.leases.SpmTerm;
import io.storagebus.worker.WorkerConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Consume-process-produce of a pool's SPM commands for one term, exactly once: the outputs of a
 * batch and the consumer offsets past it commit in one Kafka transaction. The transactional id
 * is the pool's, so the next SPM's {@code initTransactions} fences this one's producer at Kafka
 * as well: a deposed SPM cannot commit late writes even before it notices it was deposed.
 *
 * <p>Long commands (copies) are accepted in the batch's transaction and run afterwards on job
 * threads. Their progress goes out at once through a plain idempotent producer; their outcome
 * is committed by this loop's thread in a transaction of its own, after the job's progress has
 * been flushed, so a late progress record can never land after the final state.
 */
final class SpmCommandLoop {
    private static final Logger LOG = LoggerFactory.getLogger(SpmCommandLoop.class);
    /**
     * How long the end of a term waits for the loop to finish what it is doing. Not longer: the
     * loop may sit in a Kafka commit that cannot finish while Kafka is unreachable, and the
     * election must go on. A loop that outlives its term can publish nothing: the next term's
     * initTransactions fences its producer and the storage refuses its epoch.
     */
    private static final Duration STOP_WAIT = Duration.ofSeconds(2);
    private static final Duration JOB_STOP_WAIT = Duration.ofSeconds(30);
    /** Work per transaction: enough to batch, little enough that a backlog commits in slices. */
    private static final Duration CHUNK = Duration.ofMillis(50);
    /**
     * Commands a transaction takes even past {@link #CHUNK}, up to {@link #CHUNK_MAX}: on cores
     * shared with a busy manager and broker, 50 ms of wall time held a command or two, and the
     * transaction's own round trips (tens of ms) then set the pool's create rate.
     */
    private static final int CHUNK_MIN_RECORDS = 64;
    private static final Duration CHUNK_MAX = Duration.ofMillis(500);
    /** Copies are I/O bound; two at a time keep a host's disks and network busy without thrashing. */
    private static final int JOB_THREADS = 2;
    /** The jobs topic's key of a job's cancellation: its task id and this. */
    private static final String CANCEL_SUFFIX = "/cancel";

    private final WorkerConfig config;
    private final SpmTerm term;
    private final SpmCommandHandler handler;
    private final ConsumerLoop loop;
    private final ExecutorService jobs;
    private final Queue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
    /** Task ids of jobs queued, running or awaiting their outcome's commit: a job never runs twice at once. */
    private final Set<String> activeJobs = ConcurrentHashMap.newKeySet();
    /** Jobs a user asked to cancel, each recorded on the jobs topic under {@code <task id>/cancel} until its outcome. */
    private final Set<String> cancelledJobs = ConcurrentHashMap.newKeySet();
    private volatile KafkaProducer<String, byte[]> progressProducer;
    /** False once the term ended (or was fenced): jobs stop, a chunk in progress publishes nothing. */
    private volatile boolean running = true;

    SpmCommandLoop(WorkerConfig config, SpmTerm term, SpmCommandHandler handler) {
        this.config = config;
        this.term = term;
        this.handler = handler;
        this.loop = new ConsumerLoop("spm-" + term.pool() + "-epoch-" + term.epoch(), this::open,
                e -> e instanceof ProducerFencedException || e instanceof InvalidProducerEpochException || e instanceof FencedException,
                this::stopped);
        AtomicInteger jobNumber = new AtomicInteger();
        this.jobs = Executors.newFixedThreadPool(JOB_THREADS, r -> {
            Thread t = new Thread(r, "spm-" + term.pool() + "-job-" + jobNumber.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    void start() {
        loop.start();
    }

    /** Stops consuming at once and returns when no write of this term can follow. */
    void stop() {
        running = false;
        if (!loop.close(STOP_WAIT)) {
            LOG.warn("epoch {}: the SPM loop is still busy after {} (waiting on Kafka or storage); "
                    + "it is fenced and stops on its own", term.epoch(), STOP_WAIT);
        }
    }

    /**
     * A transactional producer (whose initTransactions fences the previous term's) and a consumer
     * of the pool's commands; jobs an earlier term left are resumed beside it.
     */
    private ConsumerLoop.Session open(CountDownLatch closed) {
        KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps());
        KafkaConsumer<String, byte[]> consumer;
        try {
            consumer = new KafkaConsumer<>(consumerProps());
        } catch (RuntimeException e) {
            producer.close(Duration.ZERO);
            throw e;
        }
        ConsumerLoop.Session session = new ConsumerLoop.Session() {
            @Override
            public KafkaConsumer<String, byte[]> consumer() {
                return consumer;
            }

            @Override
            public void polled(ConsumerRecords<String, byte[]> records) {
                commitOutcomes(producer);
                List<ConsumerRecord<String, byte[]>> batch = new ArrayList<>();
                records.forEach(batch::add);
                int from = 0;
                while (from < batch.size() && running) {
                    from = commitChunk(producer, consumer, batch, from);
                }
            }

            @Override
            public void close() {
                consumer.close(Duration.ofSeconds(5));
                producer.close(Duration.ofSeconds(5));
            }
        };
        try {
            producer.initTransactions();
            if (progressProducer == null) {
                progressProducer = new KafkaProducer<>(progressProps());
            }
            String topic = Topics.spmCommands(term.pool());
            consumer.assign(KafkaClients.partitionsOf(consumer, topic, closed));
            // Off the loop's thread: the first commands of a new term need not wait for it.
            jobs.execute(() -> resumeJobs(closed));
            LOG.info("epoch {}: consuming {}", term.epoch(), topic);
            return session;
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /** The loop ended: the term is over, or a newer SPM fenced this one. No job of this term goes on. */
    private void stopped(RuntimeException fenced) {
        if (fenced != null) {
            LOG.warn("epoch {}: fenced by a newer SPM, stopping: {}", term.epoch(), fenced.getMessage());
            if (fenced instanceof FencedException) {
                StorageBusMetrics.get().spmFenced(term.pool());
            }
        }
        running = false;
        jobs.shutdownNow();
        try {
            if (!jobs.awaitTermination(JOB_STOP_WAIT.toSeconds(), TimeUnit.SECONDS)) {
                LOG.error("epoch {}: jobs did not stop within {}", term.epoch(), JOB_STOP_WAIT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        KafkaProducer<String, byte[]> progress = progressProducer;
        if (progress != null) {
            progress.close(Duration.ofSeconds(5));
        }
        LOG.info("epoch {}: SPM loop stopped", term.epoch());
    }

    /**
     * Handles records from {@code from} on in one transaction, for about {@link #CHUNK} of work,
     * and commits them with their offsets. A backlog (after a failover, say) is thus committed in
     * slices, so the first commands complete in milliseconds rather than after the whole poll.
     * Returns the index of the first record not handled.
     */
    private int commitChunk(KafkaProducer<String, byte[]> producer, KafkaConsumer<String, byte[]> c,
                            List<ConsumerRecord<String, byte[]>> batch, int from) {
        long started = System.nanoTime();
        producer.beginTransaction();
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        List<Handled> accepted = new ArrayList<>();
        int i = from;
        try {
            while (i < batch.size() && running && withinChunk(i - from, System.nanoTime() - started)) {
                ConsumerRecord<String, byte[]> record = batch.get(i++);
                Handled handled = handler.handle(record, term);
                handled.records().forEach(producer::send);
                if (handled.job() != null) {
                    accepted.add(handled);
                }
                if (handled.cancels()) {
                    cancel(producer, record, handled.jobId(), accepted);
                }
                next.put(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
            }
            if (!running) {
                // The term ended while we worked: publish nothing of it.
                producer.abortTransaction();
                return batch.size();
            }
            producer.sendOffsetsToTransaction(next, c.groupMetadata());
            commit(producer);
        } catch (FencedException e) {
            abortQuietly(producer);
            throw e;
        } catch (ProducerFencedException | InvalidProducerEpochException | WakeupException e) {
            throw e;
        } catch (KafkaException e) {
            // Nothing of the chunk is visible; the loop restarts from the committed offsets and
            // the commands run again (drivers are idempotent by volume id).
            LOG.warn("epoch {}: transaction failed, retrying the batch: {}", term.epoch(), e.toString());
            abortQuietly(producer);
            throw e;
        }
        accepted.forEach(h -> submit(h.jobId(), h.job()));
        return i;
    }

    /**
     * A user's cancellation of job {@code jobId}: if the job runs in this term (or was accepted
     * in this very chunk), it is marked, and the marker goes on the jobs topic with this chunk,
     * so a later term resuming the job cancels it too. A job that already ended is left as it is.
     */
    private void cancel(KafkaProducer<String, byte[]> producer, ConsumerRecord<String, byte[]> record, String jobId, List<Handled> accepted) {
        if (!activeJobs.contains(jobId) && accepted.stream().noneMatch(h -> h.jobId().equals(jobId))) {
            LOG.info("epoch {}: cancellation of task {} ignored: no job of that task runs", term.epoch(), jobId);
            return;
        }
        cancelledJobs.add(jobId);
        producer.send(new ProducerRecord<>(Topics.spmJobs(term.pool()), cancelKey(jobId), record.value()));
        LOG.info("epoch {}: task {} cancelled by request; its job stops at its next progress point", term.epoch(), jobId);
    }

    private static String cancelKey(String jobId) {
        return jobId + CANCEL_SUFFIX;
    }

    private static boolean withinChunk(int handled, long elapsedNanos) {
        return handled == 0 || elapsedNanos < (handled < CHUNK_MIN_RECORDS ? CHUNK_MAX : CHUNK).toNanos();
    }

    /** Jobs an earlier term accepted but did not finish: whatever the pool's jobs topic still holds. */
    private void resumeJobs(CountDownLatch closed) {
        try {
            readAndSubmitPendingJobs(closed);
        } catch (KafkaException e) {
            LOG.warn("epoch {}: cannot read the jobs topic now ({}); they are resumed when the loop restarts", term.epoch(), e.toString());
        }
    }

    private void readAndSubmitPendingJobs(CountDownLatch closed) {
        String topic = Topics.spmJobs(term.pool());
        Map<String, byte[]> pending;
        try (KafkaConsumer<String, byte[]> reader = new KafkaConsumer<>(KafkaClients.consumer(config.spmKafka()))) {
            pending = KafkaClients.latestByKey(reader, topic, closed);
        }
        if (!running) {
            return;
        }
        pending.keySet().stream().filter(k -> k.endsWith(CANCEL_SUFFIX)).toList().forEach(k -> {
            pending.remove(k);
            cancelledJobs.add(k.substring(0, k.length() - CANCEL_SUFFIX.length()));
        });
        pending.forEach((taskId, command) -> submit(taskId, handler.resume(taskId, command, term)));
    }

    /**
     * What a job continues as: the record its outcome put on the jobs topic under its own task id
     * (a live move handed to its host goes on as the watch of that host), run now that it is
     * committed, as a later term would resume it.
     */
    private java.util.Optional<byte[]> continuation(Outcome outcome) {
        String jobs = Topics.spmJobs(term.pool());
        return outcome.records().stream().filter(r -> jobs.equals(r.topic()) && outcome.jobId().equals(r.key()) && r.value() != null)
                .map(ProducerRecord::value).findFirst();
    }

    /** A finished job's records, for the loop thread to commit. */
    private record Outcome(String jobId, List<ProducerRecord<String, byte[]>> records) {
    }

    private void submit(String jobId, Handled.LongJob job) {
        if (job != null && activeJobs.add(jobId)) {
            jobs.execute(() -> runJob(jobId, job));
        }
    }

    private void runJob(String jobId, Handled.LongJob job) {
        List<ProducerRecord<String, byte[]>> outcome = job.run(new Handled.JobContext() {
            @Override
            public void progress(List<ProducerRecord<String, byte[]>> records) {
                records.forEach(progressProducer::send);
            }

            @Override
            public boolean cancelled() {
                return !running;
            }

            @Override
            public boolean cancelledByRequest() {
                return cancelledJobs.contains(jobId);
            }
        });
        if (outcome.isEmpty() || !running) {
            activeJobs.remove(jobId);
            return;
        }
        progressProducer.flush();
        outcomes.add(new Outcome(jobId, outcome));
        loop.wakeup(); // the loop commits it between polls
    }

    /** Commits the outcomes of finished jobs, each queued outcome whole, in one transaction. */
    private void commitOutcomes(KafkaProducer<String, byte[]> producer) {
        if (outcomes.isEmpty()) {
            return;
        }
        List<Outcome> batch = new ArrayList<>();
        for (Outcome o; (o = outcomes.poll()) != null; ) {
            batch.add(o);
        }
        producer.beginTransaction();
        try {
            batch.forEach(o -> o.records().forEach(producer::send));
            batch.stream().filter(o -> cancelledJobs.contains(o.jobId()))
                    .forEach(o -> producer.send(new ProducerRecord<>(Topics.spmJobs(term.pool()), cancelKey(o.jobId()), null)));
            commit(producer);
            batch.forEach(o -> {
                activeJobs.remove(o.jobId());
                cancelledJobs.remove(o.jobId());
                continuation(o).ifPresent(next -> submit(o.jobId(), handler.resume(o.jobId(), next, term)));
            });
        } catch (ProducerFencedException | InvalidProducerEpochException e) {
            throw e;
        } catch (KafkaException e) {
            abortQuietly(producer);
            outcomes.addAll(batch); // tried again once the loop has a working producer
            throw e;
        }
    }

    /**
     * Commits the open transaction. A commit that timed out (the broker restarting, say) has an
     * unknown outcome, and Kafka allows only one thing next: the same commit again. So it is
     * retried for as long as the term lasts, rather than guessed at or given up.
     */
    private void commit(KafkaProducer<String, byte[]> producer) {
        while (true) {
            try {
                producer.commitTransaction();
                return;
            } catch (org.apache.kafka.common.errors.TimeoutException e) {
                if (!running) {
                    throw e;
                }
                LOG.warn("epoch {}: commit not confirmed yet, trying it again: {}", term.epoch(), e.getMessage());
            }
        }
    }

    /**
     * Aborts the open transaction if the producer still can. One that cannot (its commit timed
     * out) is closed by the restarting loop, whose new producer settles the transaction when it
     * registers under the same transactional id.
     */
    private void abortQuietly(KafkaProducer<String, byte[]> producer) {
        try {
            producer.abortTransaction();
        } catch (KafkaException | IllegalStateException e) {
            LOG.warn("epoch {}: cannot abort the transaction ({}); the next producer settles it", term.epoch(), e.getMessage());
        }
    }

    private Properties producerProps() {
        Properties p = KafkaClients.transactionalProducer(config.spmKafka(), "storagebus-spm-" + term.pool());
        // Long enough for the slowest driver operation of a batch (qemu-img, preallocation).
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "60000");
        // Without Kafka a commit fails after this, and the loop starts over.
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        // A new term's initTransactions waits while the coordinator aborts the dead SPM's open
        // transaction, retrying; Kafka's default backoff (100 ms, growing to 1 s) would add to
        // every failover.
        p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "10");
        p.put(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "100");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId());
        return p;
    }

    /** For progress: delivered at once, outside transactions, never duplicated by retries. */
    private Properties progressProps() {
        Properties p = KafkaClients.producer(config.spmKafka());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId() + "-progress");
        return p;
    }

    private Properties consumerProps() {
        Properties p = KafkaClients.consumer(config.spmKafka());
        // The group only stores offsets; partitions are assigned, not balanced, so a frozen old
        // SPM cannot hold a rebalance up and failover does not wait for a group timeout.
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "storagebus-spm-" + term.pool());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "500");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId());
        return p;
    }

    private String clientId() {
        return "spm-" + term.pool() + "-" + config.hostId() + "-e" + term.epoch();
    }
}
