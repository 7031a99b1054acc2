package io.storagebus.driver;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/**
 * A volume's data opened for copying out: exactly {@code length} bytes in {@code format}.
 * Closing it releases what the driver made to serve it (a flattened temporary image).
 */
public final class VolumeImage implements Closeable {
    private final InputStream stream;
    private final long length;
    private final VolumeFormat format;
    private final Closeable cleanup;

    public VolumeImage(InputStream stream, long length, VolumeFormat format, Closeable cleanup) {
        this.stream = stream;
        this.length = length;
        this.format = format;
        this.cleanup = cleanup;
    }

    public InputStream stream() {
        return stream;
    }

    public long length() {
        return length;
    }

    public VolumeFormat format() {
        return format;
    }

    @Override
    public void close() throws IOException {
        try (Closeable c = cleanup) {
            stream.close();
        }
    }
}
