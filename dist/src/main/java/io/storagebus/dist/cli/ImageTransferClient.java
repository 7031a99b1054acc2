package io.storagebus.dist.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.support.SparseFile;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The client side of an image transfer (the CLI's {@code volumes upload} and {@code download}):
 * speaks to the URL the manager hands out, on the SPM's host. Sparse both ways: an upload
 * skips chunks of zeros (the staged image is sparse, so they stay holes), a download fetches
 * only the extents with data and leaves the rest of its file a hole. Each chunk is sent again
 * after a broken connection (a chunk counts only once all of it arrived), and the image's
 * SHA-256 is checked by the other side at the end.
 */
public final class ImageTransferClient {
    /** 8 MiB: large enough that a request's cost is small beside its data, small enough to resend cheaply. */
    static final int CHUNK = 8 << 20;
    private static final int ATTEMPTS = 8;
    private static final Duration RETRY_PAUSE = Duration.ofSeconds(1);
    private static final byte[] QCOW2_MAGIC = {'Q', 'F', 'I', (byte) 0xfb};
    private static final byte[] ZEROS = new byte[CHUNK];

    /** An image file as the CLI found it: its format (by the qcow2 magic), its length and the disk size it shows. */
    public record Image(Path file, String format, long size, long virtualSize) {
        public static Image of(Path file) throws IOException {
            long size = Files.size(file);
            try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
                ByteBuffer header = ByteBuffer.allocate(32).order(ByteOrder.BIG_ENDIAN);
                while (header.hasRemaining() && in.read(header) > 0) {
                    // a short file is raw
                }
                header.flip();
                byte[] magic = new byte[4];
                if (header.remaining() >= 32) {
                    header.get(magic);
                    if (java.util.Arrays.equals(magic, QCOW2_MAGIC)) {
                        return new Image(file, "qcow2", size, header.getLong(24));
                    }
                }
            }
            // A disk is whole sectors: a raw image's last sector is padded with zeros.
            return new Image(file, "raw", size, (size + 511) / 512 * 512);
        }
    }

    /** What the other side said at the end: the image's checksum and length. */
    public record Done(String sha256, long size) {
    }

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    private final PrintStream progress;

    /** {@code progress}: where to tell people how far it got; null: say nothing. */
    public ImageTransferClient(PrintStream progress) {
        this.progress = progress;
    }

    /**
     * Where a transfer is served now: the manager's answer. A new SPM serves a transfer again at a
     * new URL (from the start: what the old one had staged is gone), so a client whose URL stops
     * answering asks again.
     */
    @FunctionalInterface
    public interface TransferUrl {
        String current() throws IOException, InterruptedException;
    }

    /** The transfer is served elsewhere now: start again there. */
    private static final class MovedException extends IOException {
        private final String url;

        MovedException(String url) {
            super("the transfer is served at " + url + " now");
            this.url = url;
        }
    }

    /** Sends {@code image} to the transfer at {@code url} and finishes it; fails if the SPM refuses the image. */
    public Done upload(String url, Image image) throws IOException, InterruptedException {
        return upload(() -> url, image);
    }

    /** As above, and again from the start wherever the transfer is served next if its SPM changes meanwhile. */
    public Done upload(TransferUrl transfer, Image image) throws IOException, InterruptedException {
        String url = transfer.current();
        for (int moves = 0; ; moves++) {
            try {
                return uploadTo(url, transfer, image);
            } catch (MovedException e) {
                if (moves == ATTEMPTS) {
                    throw new IOException("the transfer moved " + ATTEMPTS + " times; giving up", e);
                }
                say("%n%s (a new SPM): sending the image again%n", e.getMessage());
                url = e.url;
            }
        }
    }

    private Done uploadTo(String url, TransferUrl transfer, Image image) throws IOException, InterruptedException {
        MessageDigest digest = sha256();
        byte[] buffer = new byte[CHUNK];
        long sent = 0;
        try (InputStream in = readSparse(image.file(), image.size())) {
            for (long at = 0; at < image.size(); ) {
                int n = in.readNBytes(buffer, 0, (int) Math.min(CHUNK, image.size() - at));
                if (n <= 0) {
                    throw new IOException(image.file() + " ended at " + at + " of " + image.size() + " bytes");
                }
                digest.update(buffer, 0, n);
                if (!allZero(buffer, n)) {
                    long start = at;
                    int length = n;
                    HttpRequest put = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(2))
                            .header("Content-Range", "bytes " + start + "-" + (start + length - 1) + "/" + image.size())
                            .PUT(HttpRequest.BodyPublishers.ofByteArray(buffer, 0, length)).build();
                    retrying("send bytes " + start + "-" + (start + length - 1), url, transfer,
                            () -> expect(http.send(put, HttpResponse.BodyHandlers.ofString()), 200));
                    sent += n;
                }
                at += n;
                say("\r%d of %d bytes read, %d sent", at, image.size(), sent);
            }
        }
        say("%n");
        return finish(url, transfer, new JsonObject().put("sha256", HexFormat.of().formatHex(digest.digest())).put("size", image.size()));
    }

    /**
     * Fetches the image of the transfer at {@code url} into {@code file} (made anew, sparse),
     * checks it against {@code expectedSha256}, and finishes the transfer.
     */
    public Done download(String url, Path file, long size, String expectedSha256) throws IOException, InterruptedException {
        return download(() -> url, file, size, expectedSha256);
    }

    /** As above, and again from the start wherever the transfer is served next if its SPM changes meanwhile. */
    public Done download(TransferUrl transfer, Path file, long size, String expectedSha256) throws IOException, InterruptedException {
        String url = transfer.current();
        for (int moves = 0; ; moves++) {
            try {
                return downloadFrom(url, transfer, file, size, expectedSha256);
            } catch (MovedException e) {
                if (moves == ATTEMPTS) {
                    throw new IOException("the transfer moved " + ATTEMPTS + " times; giving up", e);
                }
                say("%n%s (a new SPM): fetching the image again%n", e.getMessage());
                url = e.url;
            }
        }
    }

    private Done downloadFrom(String url, TransferUrl transfer, Path file, long size, String expectedSha256)
            throws IOException, InterruptedException {
        JsonArray extents = new JsonArray(retrying("read the extents", url, transfer, () -> expect(http.send(HttpRequest.newBuilder(URI.create(url + "/extents"))
                .GET().build(), HttpResponse.BodyHandlers.ofString()), 200)));
        long fetched = 0;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            for (Object o : extents) {
                JsonObject extent = (JsonObject) o;
                if (extent.getBoolean("zero")) {
                    continue;
                }
                long end = extent.getLong("start") + extent.getLong("length");
                for (long at = extent.getLong("start"); at < end; at += CHUNK) {
                    long start = at;
                    long last = Math.min(end, at + CHUNK) - 1;
                    byte[] data = retrying("fetch bytes " + start + "-" + last, url, transfer, () -> {
                        HttpResponse<byte[]> got = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(2))
                                .header("Range", "bytes=" + start + "-" + last).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
                        if (got.statusCode() != 206 || got.body().length != last - start + 1) {
                            throw new IOException("fetching bytes " + start + "-" + last + ": HTTP " + got.statusCode() + ", " + got.body().length
                                    + " bytes");
                        }
                        return got.body();
                    });
                    ByteBuffer buffer = ByteBuffer.wrap(data);
                    while (buffer.hasRemaining()) {
                        out.write(buffer, start + buffer.position());
                    }
                    fetched += data.length;
                    say("\r%d bytes fetched", fetched);
                }
            }
            // The zeros at the end are a hole: the length says where the image ends.
            if (out.size() < size) {
                out.write(ByteBuffer.wrap(new byte[1]), size - 1);
            }
        }
        say("%n");
        String sha256 = sha256Of(file);
        if (!sha256.equalsIgnoreCase(expectedSha256)) {
            throw new IOException("the downloaded image has SHA-256 " + sha256 + ", the volume's image " + expectedSha256
                    + "; fetch it again");
        }
        return finish(url, transfer, new JsonObject().put("sha256", sha256));
    }

    /** The end: the SPM checks the image (and stores an upload) before it answers; a lost answer is not sent again. */
    private Done finish(String url, TransferUrl transfer, JsonObject body) throws IOException, InterruptedException {
        HttpResponse<String> answer;
        try {
            answer = http.send(HttpRequest.newBuilder(URI.create(url + "/finish")).timeout(Duration.ofMinutes(30))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw movedOr(url, transfer, e);
        }
        JsonObject json = answer.body().isEmpty() ? new JsonObject() : new JsonObject(answer.body());
        if (answer.statusCode() != 200) {
            throw new IOException(json.getString("code", "HTTP " + answer.statusCode()) + ": " + json.getString("message", answer.body()));
        }
        return new Done(json.getString("sha256"), json.getLong("size"));
    }

    /** Cancels the transfer at {@code url}: the volume stays as it was. */
    public void cancel(String url) throws IOException, InterruptedException {
        http.send(HttpRequest.newBuilder(URI.create(url)).DELETE().build(), HttpResponse.BodyHandlers.discarding());
    }

    /** The body of an answer with the expected status; otherwise the server's error, which is not sent again unless it is a 5xx. */
    private static String expect(HttpResponse<String> answer, int status) throws IOException {
        if (answer.statusCode() == status) {
            return answer.body();
        }
        String message = "HTTP " + answer.statusCode() + ": " + answer.body();
        throw answer.statusCode() >= 500 ? new IOException(message) : new RefusedException(message);
    }

    /** An answer that sending again would not change. */
    static final class RefusedException extends IOException {
        RefusedException(String message) {
            super(message);
        }
    }

    /**
     * Runs {@code step} against {@code url}, again after a broken connection or a server error,
     * up to {@value #ATTEMPTS} times; a URL that stopped answering is checked with the manager
     * first, and if the transfer is served elsewhere now, that ends this attempt ({@link MovedException}).
     */
    private <T> T retrying(String what, String url, TransferUrl transfer, Callable<T> step) throws IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            try {
                return step.call();
            } catch (RefusedException e) {
                IOException refused = movedOr(url, transfer, e);
                throw refused instanceof MovedException ? refused : new IOException("cannot " + what + ": " + e.getMessage(), e);
            } catch (IOException e) {
                IOException failed = movedOr(url, transfer, e);
                if (failed instanceof MovedException) {
                    throw failed;
                }
                if (attempt == ATTEMPTS) {
                    throw new IOException("cannot " + what + " after " + ATTEMPTS + " attempts: " + e.getMessage(), e);
                }
                say("%n%s failed (%s); again%n", what, e.getMessage());
                CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(RETRY_PAUSE.toMillis() * attempt, TimeUnit.MILLISECONDS)).join();
            } catch (InterruptedException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IOException(e);
            }
        }
    }

    /** {@code e}, unless the manager says the transfer is served at another URL now: then where. */
    private static IOException movedOr(String url, TransferUrl transfer, IOException e) throws InterruptedException {
        String now;
        try {
            now = transfer.current();
        } catch (IOException lookup) {
            e.addSuppressed(lookup);
            return e;
        }
        return now == null || now.equals(url) ? e : new MovedException(now);
    }

    private void say(String format, Object... args) {
        if (progress != null) {
            progress.printf(format, args);
        }
    }

    public static String sha256Of(Path file) throws IOException {
        try {
            return SparseFile.sha256(file, Files.size(file));
        } catch (DriverException e) { // no qemu-img here to find the holes: read them
            MessageDigest digest = sha256();
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buffer = new byte[1 << 20];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    digest.update(buffer, 0, n);
                }
            }
            return HexFormat.of().formatHex(digest.digest());
        }
    }

    /**
     * The file, its holes handed out as zeros without reading them where {@code qemu-img} (which
     * finds them) is installed, as it is where images are made; read whole otherwise.
     */
    private static InputStream readSparse(Path file, long size) throws IOException {
        try {
            return SparseFile.open(file, size);
        } catch (DriverException e) {
            return Files.newInputStream(file);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether the first {@code n} bytes are zeros; {@code Arrays.mismatch} compares a vector at a time. */
    private static boolean allZero(byte[] buffer, int n) {
        return java.util.Arrays.mismatch(buffer, 0, n, ZEROS, 0, n) < 0;
    }
}
