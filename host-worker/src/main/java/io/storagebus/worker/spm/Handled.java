package io.storagebus.worker.spm;

import java.util.List;

import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * What handling one command produced: records for the batch's transaction, and for commands
 * that take long (copies), a job to run after that transaction commits, named by its task id;
 * or, for a {@code CancelTask}, the job to cancel ({@code cancels}, with no job to run).
 */
record Handled(List<ProducerRecord<String, byte[]>> records, String jobId, LongJob job, boolean cancels) {

    static Handled now(List<ProducerRecord<String, byte[]>> records) {
        return new Handled(records, null, null, false);
    }

    static Handled job(List<ProducerRecord<String, byte[]>> records, String jobId, LongJob job) {
        return new Handled(records, jobId, job, false);
    }

    /** Asks the loop to cancel job {@code jobId}, if it runs; the loop records the request itself. */
    static Handled cancel(String jobId) {
        return new Handled(List.of(), jobId, null, true);
    }

    /** Work that outlives a transaction: it reports progress as it goes and returns its outcome records. */
    @FunctionalInterface
    interface LongJob {
        /** Never throws: a failure is returned as failure records; nothing when cancelled. */
        List<ProducerRecord<String, byte[]>> run(JobContext context);
    }

    /** What a long job may do while it runs. */
    interface JobContext {
        /** Publishes at once, outside any transaction: informative records such as progress. */
        void progress(List<ProducerRecord<String, byte[]>> records);

        /** True once the SPM term ended: the job must stop and publish nothing. */
        boolean cancelled();

        /** True once a user asked to cancel the job: it must stop, leave nothing behind and publish that it was cancelled. */
        boolean cancelledByRequest();
    }
}
