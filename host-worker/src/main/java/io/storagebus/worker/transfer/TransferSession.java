package io.storagebus.worker.transfer;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.storagebus.schema.TransferDirection;

/**
 * One image transfer served over HTTP, between the SPM job that owns it and the requests of its
 * client: the staged image, what has arrived (upload) or been sent (download), when the client
 * was last heard from, and how the transfer ends, {@link End}. The job waits for the end; the
 * server's requests record their work and may end it (finish, cancel).
 */
public final class TransferSession {
    /** How a transfer ends, as its client asked: finished (with the checksum it expects, and the image's length), or cancelled. */
    public record End(boolean finished, String expectedSha256, Long size) {
        static End cancelled() {
            return new End(false, null, null);
        }
    }

    /** The answer to a client's finish, which the job gives once it has checked and stored the image. */
    public record Answer(int status, String code, String message, String sha256, long size) {
    }

    private final String taskId;
    private final TransferDirection direction;
    private final Path image;
    private final long maxSize;
    private final Duration inactivityTimeout;
    private final Clock clock;
    private final ByteRanges received = new ByteRanges();
    private final AtomicLong sent = new AtomicLong();
    private final AtomicInteger activeRequests = new AtomicInteger();
    private final AtomicLong lastActivity;
    private final CompletableFuture<End> end = new CompletableFuture<>();
    private final CompletableFuture<Answer> answer = new CompletableFuture<>();
    private volatile long size = -1;
    private int chunksInFlight;
    private volatile String extentsJson = "[]";

    private TransferSession(String taskId, TransferDirection direction, Path image, long size, long maxSize, Duration inactivityTimeout,
                            Clock clock) {
        this.taskId = taskId;
        this.direction = direction;
        this.image = image;
        this.size = size;
        this.maxSize = maxSize;
        this.inactivityTimeout = inactivityTimeout;
        this.clock = clock;
        this.lastActivity = new AtomicLong(clock.millis());
    }

    /** An upload into {@code image} (a new, empty staging file) of at most {@code maxSize} bytes. */
    public static TransferSession upload(String taskId, Path image, long maxSize, Duration inactivityTimeout, Clock clock) {
        return new TransferSession(taskId, TransferDirection.UPLOAD, image, -1, maxSize, inactivityTimeout, clock);
    }

    /** A download of {@code image}, staged already, with its data and zero extents as JSON. */
    public static TransferSession download(String taskId, Path image, long size, String extentsJson, Duration inactivityTimeout, Clock clock) {
        TransferSession session = new TransferSession(taskId, TransferDirection.DOWNLOAD, image, size, size, inactivityTimeout, clock);
        session.extentsJson = extentsJson;
        return session;
    }

    public String taskId() {
        return taskId;
    }

    public TransferDirection direction() {
        return direction;
    }

    public Path image() {
        return image;
    }

    public long maxSize() {
        return maxSize;
    }

    /** The image's length: known from the start for a download, from the first chunk (or the finish) for an upload; -1 until then. */
    public long size() {
        return size;
    }

    /**
     * Fixes an upload's length the first time it is named; naming another later is refused (a
     * client that changed its image mid-way would otherwise get a mix of two).
     */
    public synchronized boolean fixSize(long total) {
        if (size < 0) {
            size = total;
        }
        return size == total;
    }

    public ByteRanges received() {
        return received;
    }

    String extentsJson() {
        return extentsJson;
    }

    /** Bytes done: arrived (upload) or sent (download). */
    public long doneBytes() {
        return direction == TransferDirection.UPLOAD ? received.covered() : sent.get();
    }

    void sent(long bytes) {
        sent.addAndGet(bytes);
    }

    /** A request starts: the transfer is in use and does not expire under it. */
    void begin() {
        activeRequests.incrementAndGet();
        lastActivity.set(clock.millis());
    }

    /** A request ended, well or not. */
    void done() {
        lastActivity.set(clock.millis());
        activeRequests.decrementAndGet();
    }

    /** True once no request ran for the inactivity timeout. */
    public boolean expired() {
        return activeRequests.get() == 0 && clock.millis() - lastActivity.get() >= inactivityTimeout.toMillis();
    }

    /**
     * A chunk starts to arrive, unless the transfer is ending: decided under the same lock as the
     * end, so once the job sees the end, no chunk starts after it ({@link #awaitChunks}).
     */
    synchronized boolean startChunk() {
        if (end.isDone()) {
            return false;
        }
        chunksInFlight++;
        return true;
    }

    /** A chunk arrived whole, or did not. */
    synchronized void chunkDone() {
        chunksInFlight--;
        notifyAll();
    }

    /**
     * Waits until the chunks that started before the end are written (a client may finish while
     * one still streams), so the image is checked as it will be stored; false if they did not
     * end within {@code timeout}.
     */
    public synchronized boolean awaitChunks(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (chunksInFlight > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** The client's finish: the job's answer completes the returned future. */
    synchronized CompletableFuture<Answer> finish(String expectedSha256, Long size) {
        end.complete(new End(true, expectedSha256, size));
        return answer;
    }

    synchronized void cancel() {
        end.complete(End.cancelled());
    }

    /** Waits up to {@code timeout} for the client to end the transfer; null if it has not. */
    public End awaitEnd(Duration timeout) throws InterruptedException {
        try {
            return end.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return null;
        } catch (ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The job's answer to the client's finish. */
    public void answer(Answer finished) {
        answer.complete(finished);
    }
}
