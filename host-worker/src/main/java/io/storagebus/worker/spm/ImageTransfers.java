package io.storagebus.worker.spm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.bus.Records;
import io.storagebus.bus.TaskType;
import io.storagebus.bus.Topics;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeImage;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.LocalFiles;
import io.storagebus.driver.support.SparseFile;
import io.storagebus.leases.LeaseHeldException;
import io.storagebus.leases.SpmTerm;
import io.storagebus.leases.VolumeLeases;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.ImageTransferred;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.TransferDirection;
import io.storagebus.schema.TransferImage;
import io.storagebus.schema.TransferInfo;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.worker.WorkerRecords;
import io.storagebus.worker.transfer.ImageRefusedException;
import io.storagebus.worker.transfer.StagedImage;
import io.storagebus.worker.transfer.TransferServer;
import io.storagebus.worker.transfer.TransferSession;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Images in and out of volumes over HTTP: a job that holds the volume's lease (no host prepares
 * it, no other job touches it) while this host's {@link TransferServer} serves the transfer.
 * An upload is staged beside the SPM and goes into the volume only when its client finishes
 * and the image checks out (its checksum, its format, its size): a transfer that is cancelled,
 * expires or fails leaves the volume as it was. A download is the volume's image staged at
 * the start, with its checksum and extents. A new SPM term runs the job again from the start,
 * at a new URL (the task shows it): what an earlier term staged was on the earlier SPM.
 */
final class ImageTransfers {
    private static final Logger LOG = LoggerFactory.getLogger(ImageTransfers.class);
    /** How often a waiting job looks at what only it can see: a cancel, the term's end, the client's silence, progress. */
    private static final Duration LOOK = Duration.ofSeconds(1);

    private final SpmDrivers spm;
    private final VolumeLeases leases;
    private final TransferServer server;
    private final Clock clock;

    ImageTransfers(SpmDrivers spm, VolumeLeases leases, TransferServer server, Clock clock) {
        this.spm = spm;
        this.leases = leases;
        this.server = server;
        this.clock = clock;
    }

    SpmCommandHandler.Job transfer(TransferImage cmd, SpmTerm term) {
        WorkerRecords.Task task = task(cmd);
        return new SpmCommandHandler.Job(cmd.getTaskId(), List.of(task.transfer(spm.answer(cmd.getEnvelope(), term), TaskStatus.RUNNING,
                0L, null, cmd.getTransfer(), null, null)), context -> run(cmd, term, task, context));
    }

    private static WorkerRecords.Task task(TransferImage cmd) {
        return WorkerRecords.Task.of(cmd.getTaskId(), TaskType.TRANSFER_IMAGE, cmd.getVolume(), cmd.getEnvelope().getTimestamp());
    }

    private List<ProducerRecord<String, byte[]>> run(TransferImage cmd, SpmTerm term, WorkerRecords.Task task, Handled.JobContext context) {
        String volumeId = cmd.getVolumeId();
        try {
            leases.acquire(volumeId);
        } catch (LeaseHeldException e) {
            boolean job = VolumeLeases.heldBySpm(e.holder().hostId());
            return failed(cmd, term, job ? "VOLUME_BUSY" : "VOLUME_IN_USE", job ? "volume " + volumeId + " is held by another SPM job; retry"
                    : "volume " + volumeId + " is prepared on host " + e.holder().hostId() + "; tear it down first");
        } catch (Exception e) {
            return failed(cmd, term, "LEASE_UNAVAILABLE", "cannot take the lease of volume " + volumeId + ": " + e);
        }
        List<Path> staged = new ArrayList<>();
        TransferSession session = null;
        try {
            StorageDriver driver = spm.driver(cmd.getDomain());
            DomainContext domain = SpmDrivers.context(cmd.getDomain(), term);
            VolumeUri uri = new VolumeUri(cmd.getDomain().getId(), volumeId);
            VolumeInfo info = driver.info(domain, uri);
            TransferInfo asked = cmd.getTransfer();
            Duration timeout = Duration.ofSeconds(asked.getInactivityTimeoutSeconds());
            TransferInfo ready;
            if (asked.getDirection() == TransferDirection.UPLOAD) {
                Path image = staging(cmd, "upload", staged);
                long maxSize = asked.getFormat() == io.storagebus.schema.VolumeFormat.RAW ? info.virtualSize()
                        : io.storagebus.driver.support.QemuImg.qcow2FullSize(info.virtualSize());
                session = TransferSession.upload(cmd.getTaskId(), image, maxSize, timeout, clock);
                ready = TransferInfo.newBuilder(asked).setUrl(server.open(session)).build();
            } else {
                Staged out = export(driver, domain, uri, info, SpmDrivers.driverFormat(asked.getFormat()), staging(cmd, "download", staged),
                        staged);
                session = TransferSession.download(cmd.getTaskId(), out.file(), out.size(), StagedImage.extents(out.file()), timeout, clock);
                ready = TransferInfo.newBuilder(asked).setUrl(server.open(session)).setSizeBytes(out.size()).setSha256(out.sha256()).build();
            }
            LOG.info("epoch {}: {} of volume {} served ({} s without a request ends it)", term.epoch(), asked.getDirection(), volumeId,
                    asked.getInactivityTimeoutSeconds());
            context.progress(List.of(task.transfer(spm.answer(cmd.getEnvelope(), term), TaskStatus.RUNNING, 0L, ready.getSizeBytes(), ready,
                    null, null)));
            TransferSession.End end = awaitEnd(cmd, term, task, context, session, ready);
            if (end == null) {
                return List.of(); // the term ended: the next one serves the transfer again
            }
            if (!end.finished()) {
                String code = context.cancelledByRequest() || !session.expired() ? "CANCELLED" : "TRANSFER_EXPIRED";
                String message = code.equals("CANCELLED") ? "the transfer was cancelled; the volume is as it was"
                        : "no request came for " + asked.getInactivityTimeoutSeconds() + " s; the volume is as it was";
                LOG.info("epoch {}: {} of volume {} ended: {}", term.epoch(), asked.getDirection(), volumeId, code);
                return failed(cmd, term, code, message);
            }
            return asked.getDirection() == TransferDirection.UPLOAD
                    ? finishUpload(cmd, term, task, driver, domain, uri, info, session, end, ready, staged)
                    : finishDownload(cmd, term, task, session, ready);
        } catch (DriverException | IOException | RuntimeException e) {
            if (SpmCommandHandler.abandoned(e, context, term, "transfer of " + volumeId)) {
                return List.of();
            }
            String code = e instanceof DriverException de ? de.code().name() : "IO_ERROR";
            LOG.warn("epoch {}: transfer of volume {} failed: {} {}", term.epoch(), volumeId, code, e.getMessage());
            if (session != null) {
                session.answer(new TransferSession.Answer(500, code, e.getMessage(), null, 0));
            }
            return failed(cmd, term, code, e.getMessage());
        } finally {
            if (session != null) {
                server.close(session);
            }
            staged.forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException e) {
                    LOG.warn("cannot remove staged image {}: {}", f, e.toString());
                }
            });
            // A job whose term ended was interrupted: the lease is given back all the same, or the next SPM could not take it.
            boolean interrupted = Thread.interrupted();
            try {
                leases.release(volumeId);
            } catch (Exception e) {
                LOG.warn("cannot release the lease of volume {} after its transfer: {}", volumeId, e.toString());
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    private Path staging(TransferImage cmd, String suffix, List<Path> staged) {
        Path file = server.stagingFile(cmd.getTaskId(), suffix);
        staged.add(file);
        return file;
    }

    /**
     * Waits for the client to finish or cancel, publishing progress as it comes; null when the
     * term ended. A cancel through the manager and a client gone silent end it too.
     */
    private TransferSession.End awaitEnd(TransferImage cmd, SpmTerm term, WorkerRecords.Task task, Handled.JobContext context,
                                         TransferSession session, TransferInfo ready) {
        long reported = 0;
        try {
            while (true) {
                TransferSession.End end = session.awaitEnd(LOOK);
                if (end != null) {
                    return end;
                }
                if (context.cancelled()) {
                    return null;
                }
                if (context.cancelledByRequest() || session.expired()) {
                    return new TransferSession.End(false, null, null);
                }
                long done = session.doneBytes();
                if (done != reported) {
                    reported = done;
                    long size = session.size();
                    context.progress(List.of(task.transfer(spm.answer(cmd.getEnvelope(), term), TaskStatus.RUNNING, done,
                            size < 0 ? null : size, ready, null, null)));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** The uploaded image, checked, converted to the volume's format and written into it; the client hears how it went. */
    private List<ProducerRecord<String, byte[]>> finishUpload(TransferImage cmd, SpmTerm term, WorkerRecords.Task task, StorageDriver driver,
                                                              DomainContext domain, VolumeUri uri, VolumeInfo info, TransferSession session,
                                                              TransferSession.End end, TransferInfo ready, List<Path> staged)
            throws DriverException, IOException {
        try {
            if (!session.awaitChunks(Duration.ofMinutes(1))) {
                throw new ImageRefusedException("CHUNKS_PENDING", "chunks sent before the finish were still arriving a minute later; "
                        + "finish once every chunk was answered");
            }
            if (end.size() != null && !session.fixSize(end.size())) {
                throw new ImageRefusedException("SIZE_CHANGED", "the finish says the image is " + end.size() + " bytes, its chunks said "
                        + session.size());
            }
            long size = session.size();
            if (size <= 0) {
                throw new ImageRefusedException("INVALID_IMAGE", "no image was sent (no chunk, and no size in the finish)");
            }
            if (size > session.maxSize()) {
                throw new ImageRefusedException("IMAGE_TOO_LARGE", "the image is " + size + " bytes; the volume takes at most " + session.maxSize());
            }
            Path image = session.image();
            long finishing = System.nanoTime();
            LOG.info("epoch {}: upload into volume {} finished by its client ({} of {} bytes sent, the rest zeros); checking it",
                    term.epoch(), uri.volumeId(), session.doneBytes(), size);
            StagedImage.setLength(image, size); // zeros at the end were never sent: a hole
            String sha256 = StagedImage.sha256(image, size);
            if (end.expectedSha256() != null && !end.expectedSha256().equalsIgnoreCase(sha256)) {
                throw new ImageRefusedException("CHECKSUM_MISMATCH", "the image that arrived has SHA-256 " + sha256 + ", the client's has "
                        + end.expectedSha256() + "; nothing was written");
            }
            VolumeFormat format = SpmDrivers.driverFormat(ready.getFormat());
            long virtualSize = StagedImage.checkedVirtualSize(image, format, size);
            if (virtualSize > info.virtualSize()) {
                throw new ImageRefusedException("IMAGE_TOO_LARGE", "the image shows " + virtualSize + " bytes; the volume is " + info.virtualSize()
                        + " (resize it first, or create a larger one)");
            }
            Path data = asVolumeFormat(image, format, info, staged, cmd);
            long checked = System.nanoTime();
            long length = Files.size(data);
            if (info.allocatedSize() < length && driver.capabilities().contains(Capability.EXTENDABLE)) {
                driver.extend(domain, uri, length); // a thin block volume: room for all of the image first (a file grows as written)
            }
            try (InputStream in = SparseFile.open(data, length)) {
                driver.write(domain, uri, in, length);
            }
            VolumeInfo after = driver.info(domain, uri);
            LOG.info("epoch {}: volume {} has the uploaded {} image ({} bytes, sha256 {}; checked in {} ms, written in {} ms)", term.epoch(),
                    uri.volumeId(), format, size, sha256, (checked - finishing) / 1_000_000, (System.nanoTime() - checked) / 1_000_000);
            session.answer(new TransferSession.Answer(200, null, null, sha256, size));
            Envelope done = spm.answer(cmd.getEnvelope(), term);
            TransferInfo result = TransferInfo.newBuilder(ready).setSizeBytes(size).setSha256(sha256).build();
            VolumeState volume = VolumeState.newBuilder(cmd.getVolume()).setEnvelope(done).setTaskId(cmd.getTaskId()).setStatus(VolumeStatus.READY)
                    .setUri(after.location()).setErrorCode(null).setErrorMessage(null).build();
            return List.of(
                    Records.of(Topics.EVENTS, uri.volumeId(), transferred(cmd, done, result)),
                    Records.of(Topics.VOLUME_STATE, uri.volumeId(), volume),
                    task.transfer(done, TaskStatus.SUCCEEDED, size, size, result, null, null),
                    SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of(); // the term ended: the next one serves the transfer again
        } catch (ImageRefusedException e) {
            LOG.info("epoch {}: upload into volume {} refused: {} {}", term.epoch(), uri.volumeId(), e.code(), e.getMessage());
            session.answer(new TransferSession.Answer(409, e.code(), e.getMessage(), null, 0));
            return failed(cmd, term, e.code(), e.getMessage());
        }
    }

    /** The uploaded image as the volume stores it: converted when the formats differ, as large as the volume shows. */
    private Path asVolumeFormat(Path image, VolumeFormat format, VolumeInfo info, List<Path> staged, TransferImage cmd)
            throws DriverException, IOException, ImageRefusedException {
        Path data = image;
        if (format != info.format() || format == VolumeFormat.QCOW2) {
            // A qcow2 image is rewritten even into a qcow2 volume: only what the checks above read goes in, never a stranger's header extensions.
            data = staging(cmd, "converted", staged);
            StagedImage.convert(image, format, data, info.format());
        }
        if (info.format() == VolumeFormat.RAW) {
            StagedImage.setLength(data, info.virtualSize());
        } else if (StagedImage.checkedVirtualSize(data, VolumeFormat.QCOW2, Files.size(data)) < info.virtualSize()) {
            StagedImage.growQcow2(data, info.virtualSize());
        }
        return data;
    }

    private List<ProducerRecord<String, byte[]>> finishDownload(TransferImage cmd, SpmTerm term, WorkerRecords.Task task, TransferSession session,
                                                                TransferInfo ready) {
        session.answer(new TransferSession.Answer(200, null, null, ready.getSha256(), ready.getSizeBytes()));
        Envelope done = spm.answer(cmd.getEnvelope(), term);
        LOG.info("epoch {}: download of volume {} finished ({} bytes sent)", term.epoch(), cmd.getVolumeId(), session.doneBytes());
        return List.of(
                Records.of(Topics.EVENTS, cmd.getVolumeId(), transferred(cmd, done, ready)),
                task.transfer(done, TaskStatus.SUCCEEDED, session.doneBytes(), ready.getSizeBytes(), ready, null, null),
                SpmCommandHandler.jobDone(term, cmd.getTaskId()));
    }

    /** A staged image for download: the volume's data (its chain flattened) in the format asked for. */
    private record Staged(Path file, long size, String sha256) {
    }

    private Staged export(StorageDriver driver, DomainContext domain, VolumeUri uri, VolumeInfo info, VolumeFormat format, Path file,
                          List<Path> staged) throws DriverException, IOException {
        Path stored = file;
        try (VolumeImage image = driver.export(domain, uri, null, false)) {
            if (image.format() != format) {
                stored = file.resolveSibling(file.getFileName() + ".stored");
                staged.add(stored);
            }
            long copied = LocalFiles.copySparse(image.stream(), stored, image.length());
            if (copied != image.length()) {
                throw new DriverException(DriverException.Code.IO_ERROR, "volume " + uri + " gave " + copied + " of " + image.length() + " bytes");
            }
            if (image.format() != format) {
                StagedImage.convert(stored, image.format(), file, format);
            }
        }
        if (format == VolumeFormat.RAW) {
            StagedImage.setLength(file, info.virtualSize()); // a raw image is the disk: all of it, holes included
        }
        long size = Files.size(file);
        return new Staged(file, size, StagedImage.sha256(file, size));
    }

    private static ImageTransferred transferred(TransferImage cmd, Envelope envelope, TransferInfo transfer) {
        return ImageTransferred.newBuilder().setEnvelope(envelope).setTaskId(cmd.getTaskId()).setVolumeId(cmd.getVolumeId())
                .setDomainId(cmd.getDomain().getId()).setDirection(transfer.getDirection()).setFormat(transfer.getFormat())
                .setSizeBytes(transfer.getSizeBytes()).setSha256(transfer.getSha256()).build();
    }

    private List<ProducerRecord<String, byte[]>> failed(TransferImage cmd, SpmTerm term, String code, String message) {
        List<ProducerRecord<String, byte[]>> out = new ArrayList<>();
        Envelope envelope = spm.answer(cmd.getEnvelope(), term);
        out.add(WorkerRecords.commandFailed(envelope, cmd.getEnvelope(), TransferImage.class.getName(), cmd.getTaskId(), cmd.getVolumeId(),
                code, message));
        out.add(task(cmd).transfer(envelope, TaskStatus.FAILED, null, null, cmd.getTransfer(), code, message));
        out.add(SpmCommandHandler.jobDone(term, cmd.getTaskId()));
        return out;
    }
}
