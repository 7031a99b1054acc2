package io.storagebus.driver;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

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
     * Streams an opened image into a new target volume made from {@code targetSpec}, then reads
     * the target back and compares digests. The caller closes the image.
     */
    public static CopyResult copy(VolumeImage image, String what, StorageDriver target, DomainContext targetDomain,
                                  VolumeSpec targetSpec, CopyListener listener) throws DriverException {
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
            try (DigestingStream in = new DigestingStream(image.stream(), length, listener)) {
                target.write(targetDomain, targetUri, in, length);
                if (in.count != length) {
                    throw new DriverException(DriverException.Code.IO_ERROR,
                            "source " + what + " gave " + in.count + " bytes, expected " + length);
                }
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
            try {
                target.destroy(targetDomain, targetUri, false);
            } catch (DriverException cleanup) {
                e.addSuppressed(cleanup);
            }
            if (e instanceof DriverException de) {
                throw de;
            }
            throw new DriverException(DriverException.Code.IO_ERROR, "copy of " + what + " failed: " + e.getMessage(), e);
        }
    }

    /** SHA-256 of the first {@code length} bytes of the stream, which is closed. */
    public static String sha256(InputStream stream, long length) throws IOException {
        try (DigestingStream in = new DigestingStream(stream, length, CopyListener.NONE)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            if (in.count != length) {
                throw new IOException("stream ended after " + in.count + " of " + length + " bytes");
            }
            return in.hex();
        }
    }

    /** Passes at most {@code limit} bytes through, digesting them and reporting progress. */
    private static final class DigestingStream extends FilterInputStream {
        private final long limit;
        private final CopyListener listener;
        private final MessageDigest digest;
        private long count;
        private long reported;

        DigestingStream(InputStream in, long limit, CopyListener listener) {
            super(in);
            this.limit = limit;
            this.listener = listener;
            try {
                this.digest = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("every JDK has SHA-256", e);
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
