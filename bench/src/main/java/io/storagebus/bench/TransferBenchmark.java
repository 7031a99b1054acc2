package io.storagebus.bench;

import static io.storagebus.bench.BenchSupport.fillRandom;
import static io.storagebus.bench.BenchSupport.run;
import static io.storagebus.bench.BenchSupport.timed;
import static io.storagebus.bench.Figures.option;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executors;

import com.sun.net.httpserver.HttpServer;
import io.storagebus.dist.cli.ImageTransferClient;
import io.vertx.core.json.JsonObject;

/**
 * Image transfers through the REST API and the SPM host's transfer server, as the CLI makes
 * them: a raw image (default 4 GiB holding 1 GiB of data, in 16 MiB runs) uploaded into a new
 * raw volume of a {@code file} domain and downloaded again, each timed from the request to the
 * finish's answer (so with the checks and the write into the volume); next to {@code curl} of the
 * same file to and from a plain file server (the JDK's, writing what it gets, checking nothing)
 * and {@code qemu-img convert} of it on the same disk. The last line is JSON.
 */
public final class TransferBenchmark {
    private static final double MIB = 1 << 20;
    private static final long GIB = 1L << 30;

    private TransferBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long size = (long) (Double.parseDouble(option(args, "--size-gib", "4")) * GIB);
        long data = (long) (Double.parseDouble(option(args, "--data-gib", "1")) * GIB);
        Path dir = Files.createTempDirectory(Path.of(option(args, "--dir", System.getProperty("java.io.tmpdir"))), "sb-bench-transfer-");
        Path image = dir.resolve("image.raw");
        fillRandom(image, size, data);
        Path copy = dir.resolve("converted.raw");
        double convert = timed(() -> run("qemu-img", "convert", "-f", "raw", "-O", "raw", image.toString(), copy.toString()));
        Files.delete(copy);
        double[] curl = curl(dir, image);

        ImageTransferClient client = new ImageTransferClient(null);
        double upload;
        double download;
        try (BenchStack stack = BenchStack.start(dir, "bench-host", c -> c)) {
            BenchRest rest = stack.rest;
            String domain = rest.domain("files", "file", Files.createDirectories(dir.resolve("files")));
            Path warm = dir.resolve("warm.raw");
            fillRandom(warm, 64L << 20, 32L << 20);
            transfer(rest, client, domain, "warmup", warm, dir); // JIT and server warmed, as a running SPM's are
            double[] times = transfer(rest, client, domain, "image", image, dir);
            upload = times[0];
            download = times[1];
        }
        List<String> lines = new ArrayList<>();
        lines.add(line("StorageBus upload (checked, into the volume)", size, upload));
        lines.add(line("StorageBus download (checked, sparse)", size, download));
        lines.add(line("curl -T to a plain file server", size, curl[0]));
        lines.add(line("curl -o from a plain file server", size, curl[1]));
        lines.add(line("qemu-img convert, same disk", size, convert));
        lines.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "{\"size_mib\":%.0f,\"data_mib\":%.0f,\"upload_mibs\":%.0f,\"download_mibs\":%.0f,\"curl_put_mibs\":%.0f,"
                        + "\"curl_get_mibs\":%.0f,\"qemu_img_convert_mibs\":%.0f}%n", size / MIB, data / MIB, size / MIB / upload,
                size / MIB / download, size / MIB / curl[0], size / MIB / curl[1], size / MIB / convert);
    }

    private static String line(String what, long size, double seconds) {
        return String.format(Locale.ROOT, "%-46s %7.0f MiB/s (%.1f s)", what, size / MIB / seconds, seconds);
    }

    /** Upload into a new volume and download again; seconds of each. */
    private static double[] transfer(BenchRest rest, ImageTransferClient client, String domain, String name, Path image, Path dir)
            throws Exception {
        long size = Files.size(image);
        long started = System.nanoTime();
        JsonObject created = rest.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", name).put("virtualSize", size)
                .put("format", "raw").put("source", new JsonObject().put("upload", new JsonObject().put("format", "raw"))));
        String transferId = created.getString("transferId");
        client.upload(readyTransfer(rest, transferId).getString("url"), ImageTransferClient.Image.of(image));
        double upload = (System.nanoTime() - started) / 1e9;
        rest.awaitTask(transferId);

        Path back = dir.resolve(name + ".back");
        started = System.nanoTime();
        String downloadId = rest.post("/api/v1/volumes/" + created.getString("volumeId") + "/transfers",
                new JsonObject().put("direction", "download").put("format", "raw")).getString("transferId");
        JsonObject transfer = readyTransfer(rest, downloadId);
        client.download(transfer.getString("url"), back, transfer.getLong("sizeBytes"), transfer.getString("sha256"));
        double download = (System.nanoTime() - started) / 1e9;
        rest.awaitTask(downloadId);
        Files.delete(back);
        return new double[] {upload, download};
    }

    /** The transfer's side of its task once the SPM serves it; asks every 10 ms, a small part of what is measured. */
    private static JsonObject readyTransfer(BenchRest rest, String transferId) throws Exception {
        while (true) {
            JsonObject task = rest.get("/api/v1/transfers/" + transferId);
            if ("FAILED".equals(task.getString("status"))) {
                throw new IllegalStateException("transfer failed: " + task.encode());
            }
            if (task.getJsonObject("transfer").containsKey("url")) {
                return task.getJsonObject("transfer");
            }
            java.util.concurrent.CompletableFuture.runAsync(() -> { },
                    java.util.concurrent.CompletableFuture.delayedExecutor(10, java.util.concurrent.TimeUnit.MILLISECONDS)).join();
        }
    }

    /** Seconds of {@code curl -T} of the image to a plain file server on loopback, and of {@code curl -o} from it. */
    private static double[] curl(Path dir, Path image) throws Exception {
        Path stored = dir.resolve("served.raw");
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newFixedThreadPool(2));
        server.createContext("/", exchange -> {
            try (exchange) {
                if ("PUT".equals(exchange.getRequestMethod())) {
                    try (InputStream in = exchange.getRequestBody(); OutputStream out = Files.newOutputStream(stored)) {
                        in.transferTo(out);
                    }
                    exchange.sendResponseHeaders(201, -1);
                } else {
                    exchange.sendResponseHeaders(200, Files.size(stored));
                    try (OutputStream out = exchange.getResponseBody()) {
                        Files.copy(stored, out);
                    }
                }
            }
        });
        server.start();
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/image";
            double put = timed(() -> run("curl", "-sS", "-f", "-T", image.toString(), url));
            double get = timed(() -> run("curl", "-sS", "-f", "-o", dir.resolve("fetched.raw").toString(), url));
            Files.delete(dir.resolve("fetched.raw"));
            Files.delete(stored);
            return new double[] {put, get};
        } finally {
            server.stop(0);
        }
    }
}
