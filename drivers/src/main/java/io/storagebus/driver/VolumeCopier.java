package io.storagebus.driver;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The generic copy between any two drivers: the source's stream goes through a SHA-256 digest
 * into the target's {@code write}, then the target is read back and must give the same digest.
 * Memory use is one read buffer, whatever the volume's size.
 */
public final class VolumeCopier {
    /** Progress is reported at most this often, in bytes. */
    static final long PROGRESS_STEP = 64L << 20;
    private static final int BUFFER = 1 << 20;

    private VolumeCopier() {
    }

    /** Copies the volume as it is now (see {@link StorageDriver#export}). */
    public static CopyResult copy(StorageDriver source, DomainContext sourceDomain, VolumeUri volume,
                                  StorageDriver target, DomainContext targetDomain, VolumeSpec targetSpec,
                                  CopyListener listener) throws DriverException {
        try (VolumeImage image = source.export(sourceDomain, volume, null, false)) {
            return copy(image, volume.toString(), target, targetDomain, targetSpec, listener);
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot release the export of " + volume + ": " + e.getMessage(), e);
        }
    }

    /**
     * Copies a volume with its snapshots ({@code snapshots}, oldest first, all READY) so that the
     * target has the same chain under the same snapshot ids: the oldest snapshot whole, as the
     * new volume, then each layer above it (each newer snapshot's difference, then the top)
     * stacked on with {@link StorageDriver#importLayer}, every one read back and compared by
     * SHA-256. The result's digest is over all the layers' bytes, oldest first; on failure
     * nothing is left in the target.
     */
    public static CopyResult copyChain(StorageDriver source, DomainContext sourceDomain, VolumeUri volume, List<SnapshotInfo> snapshots,
                                       StorageDriver target, DomainContext targetDomain, VolumeSpec targetSpec,
                                       CopyListener listener) throws DriverException {
        if (snapshots.isEmpty()) {
            return copy(source, sourceDomain, volume, target, targetDomain, targetSpec, listener);
        }
        return copyLayers(source, sourceDomain, volume, snapshots, () -> source.export(sourceDomain, volume, null, true), target,
                targetDomain, targetSpec, listener);
    }

    /**
     * Copies the frozen part of a volume a guest still writes to, for a live move: its snapshots
     * as {@link #copyChain} does, under an empty top layer of the same size that the guest's
     * QEMU then mirrors its active layer onto; with no snapshots, an empty volume made from
     * {@code targetSpec}. On failure nothing is left in the target.
     */
    public static CopyResult copyFrozenChain(StorageDriver source, DomainContext sourceDomain, VolumeUri volume,
                                             List<SnapshotInfo> snapshots, StorageDriver target, DomainContext targetDomain,
                                             VolumeSpec targetSpec, CopyListener listener) throws DriverException {
        if (snapshots.isEmpty()) {
            long started = System.nanoTime();
            VolumeInfo created = target.create(targetDomain, targetSpec);
            return new CopyResult(created, 0, HexFormat.of().formatHex(newDigest().digest()), System.nanoTime() - started, 0);
        }
        return copyLayers(source, sourceDomain, volume, snapshots, () -> emptyLayer(targetSpec.virtualSize()), target, targetDomain,
                targetSpec, listener);
    }

    private interface LayerSource {
        VolumeImage open() throws DriverException;
    }

    /** An empty qcow2 layer of the given virtual size, in a temporary file its closing removes. */
    private static VolumeImage emptyLayer(long virtualSize) throws DriverException {
        try {
            Path file = Files.createTempFile("storagebus-empty-layer", ".qcow2");
            try {
                io.storagebus.driver.support.QemuImg.create(file, VolumeFormat.QCOW2, virtualSize, false);
                return new VolumeImage(Files.newInputStream(file), Files.size(file), VolumeFormat.QCOW2, () -> Files.deleteIfExists(file));
            } catch (DriverException | IOException e) {
                Files.deleteIfExists(file);
                throw e;
            }
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot make an empty layer: " + e.getMessage(), e);
        }
    }

    /** The snapshots' layers, oldest whole and the others as differences, then {@code top}, stacked in the target. */
    private static CopyResult copyLayers(StorageDriver source, DomainContext sourceDomain, VolumeUri volume, List<SnapshotInfo> snapshots,
                                         LayerSource top, StorageDriver target, DomainContext targetDomain, VolumeSpec targetSpec,
                                         CopyListener listener) throws DriverException {
        List<VolumeImage> layers = new ArrayList<>();
        try {
            layers.add(source.export(sourceDomain, volume, snapshots.get(0).snapshotId(), false));
            for (SnapshotInfo snapshot : snapshots.subList(1, snapshots.size())) {
                layers.add(source.export(sourceDomain, volume, snapshot.snapshotId(), true));
            }
            layers.add(top.open());
            long total = layers.stream().mapToLong(VolumeImage::length).sum();
            MessageDigest chain = newDigest();
            long[] before = {0};
            CopyListener overall = (copied, length) -> listener.progress(before[0] + copied, total);
            long started = System.nanoTime();
            CopyResult base = copy(layers.get(0), volume.toString(), target, targetDomain, targetSpec, overall, chain);
            VolumeUri copy = base.target().uri();
            try {
                for (int i = 1; i < layers.size(); i++) {
                    before[0] += layers.get(i - 1).length();
                    SnapshotInfo frozen = snapshots.get(i - 1);
                    VolumeImage layer = layers.get(i);
                    String what = "layer " + i + " of " + volume;
                    try (DigestingStream in = new DigestingStream(layer.stream(), layer.length(), overall, chain)) {
                        String readBack = target.importLayer(targetDomain, copy, frozen.snapshotId(), frozen.name(), in, layer.length());
                        in.requireAll(what);
                        if (!readBack.equals(in.hex())) {
                            throw new DriverException(DriverException.Code.CHECKSUM_MISMATCH,
                                    what + " reads back from " + copy + " as " + readBack + ", expected " + in.hex());
                        }
                    }
                }
            } catch (DriverException | IOException | RuntimeException e) {
                throw discarded(target, targetDomain, copy, "copy of " + volume, e);
            }
            return new CopyResult(target.info(targetDomain, copy), total, HexFormat.of().formatHex(chain.digest()),
                    System.nanoTime() - started - base.verifyNanos(), base.verifyNanos());
        } finally {
            for (VolumeImage layer : layers) {
                try {
                    layer.close();
                } catch (IOException e) {
                    // A temporary export left behind is removed with the domain's next term's temporaries.
                }
            }
        }
    }

    /**
     * Streams an opened image into a new target volume made from {@code targetSpec}, then reads
     * the target back and compares digests. The caller closes the image.
     */
    public static CopyResult copy(VolumeImage image, String what, StorageDriver target, DomainContext targetDomain,
                                  VolumeSpec targetSpec, CopyListener listener) throws DriverException {
        return copy(image, what, target, targetDomain, targetSpec, listener, null);
    }

    /** As above, the bytes also fed to {@code alsoDigest} (null: none). */
    private static CopyResult copy(VolumeImage image, String what, StorageDriver target, DomainContext targetDomain,
                                   VolumeSpec targetSpec, CopyListener listener, MessageDigest alsoDigest) throws DriverException {
        if (image.format() != targetSpec.format()) {
            throw new DriverException(DriverException.Code.INVALID_SPEC, "a stream copy keeps the format: source is "
                    + image.format() + ", target spec says " + targetSpec.format());
        }
        long length = image.length();
        VolumeSpec spec = new VolumeSpec(targetSpec.volumeId(), targetSpec.name(), targetSpec.virtualSize(),
                targetSpec.format(), targetSpec.allocation(), Math.max(targetSpec.initialSize(), length));
        VolumeInfo created = target.create(targetDomain, spec);
        VolumeUri targetUri = created.uri();
        try {
            long started = System.nanoTime();
            String digest;
            try (DigestingStream in = new DigestingStream(image.stream(), length, listener, alsoDigest)) {
                target.write(targetDomain, targetUri, in, length);
                in.requireAll("source " + what);
                digest = in.hex();
            }
            long copied = System.nanoTime();
            String readBack = sha256(target.read(targetDomain, targetUri), length);
            if (!readBack.equals(digest)) {
                throw new DriverException(DriverException.Code.CHECKSUM_MISMATCH,
                        "copy of " + what + " to " + targetUri + " reads back as " + readBack + ", expected " + digest);
            }
            return new CopyResult(target.info(targetDomain, targetUri), length, digest, copied - started, System.nanoTime() - copied);
        } catch (DriverException | IOException | RuntimeException e) {
            throw discarded(target, targetDomain, targetUri, "copy of " + what, e);
        }
    }

    /** Removes a failed copy's target and returns the failure to throw, as a DriverException. */
    private static DriverException discarded(StorageDriver target, DomainContext targetDomain, VolumeUri targetUri, String what, Exception e) {
        try {
            target.destroy(targetDomain, targetUri, false);
        } catch (DriverException cleanup) {
            e.addSuppressed(cleanup);
        }
        if (e instanceof DriverException de) {
            return de;
        }
        return new DriverException(DriverException.Code.IO_ERROR, what + " failed: " + e.getMessage(), e);
    }

    /** SHA-256 of the first {@code length} bytes of the stream, which is closed. */
    public static String sha256(InputStream stream, long length) throws IOException {
        try (DigestingStream in = new DigestingStream(stream, length, CopyListener.NONE, null)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            if (in.count != length) {
                throw new IOException("stream ended after " + in.count + " of " + length + " bytes");
            }
            return in.hex();
        }
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** Passes at most {@code limit} bytes through, digesting them and reporting progress. */
    private static final class DigestingStream extends FilterInputStream {
        private final long limit;
        private final CopyListener listener;
        private final MessageDigest digest = newDigest();
        private final MessageDigest alsoDigest;
        private long count;
        private long reported;

        DigestingStream(InputStream in, long limit, CopyListener listener, MessageDigest alsoDigest) {
            super(in);
            this.limit = limit;
            this.listener = listener;
            this.alsoDigest = alsoDigest;
        }

        void requireAll(String what) throws DriverException {
            if (count != limit) {
                throw new DriverException(DriverException.Code.IO_ERROR, what + " gave " + count + " bytes, expected " + limit);
            }
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (count >= limit) {
                return -1;
            }
            int n = super.read(b, off, (int) Math.min(Math.min(len, BUFFER), limit - count));
            if (n > 0) {
                digest.update(b, off, n);
                if (alsoDigest != null) {
                    alsoDigest.update(b, off, n);
                }
                count += n;
                if (count - reported >= PROGRESS_STEP || count == limit) {
                    reported = count;
                    listener.progress(count, limit);
                }
            }
            return n;
        }

        @Override
        public long skip(long n) {
            return 0;
        }

        @Override
        public boolean markSupported() {
            return false;
        }

        String hex() {
            return HexFormat.of().formatHex(digest.digest());
        }
    }
}
