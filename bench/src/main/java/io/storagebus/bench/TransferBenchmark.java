package io.storagebus.bench;

import static io.storagebus.bench.BenchSupport.fillRandom;
import static io.storagebus.bench.BenchSupport.run;
import static io.storagebus.bench.BenchSupport.timed;
import static io.storagebus.bench.Figures.option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import io.storagebus.dist.cli.ImageTransferClient;
import io.vertx.core.json.JsonObject;

/**
 * Image transfers through the REST API and the SPM host's transfer server, as the CLI makes
 * them: a raw image (default 2 GiB, all data; and a sparse one, 4 GiB holding 512 MiB) uploaded
 * into a new raw volume of a {@code file} domain and downloaded again, each timed from the
 * request to the finish's answer (so with the checks and the write into the volume), next to
 * {@code cp --sparse=always} and {@code sha256sum} of the same image on the same disk. The last
 * line is JSON.
 */
public final class TransferBenchmark {
    private static final double MIB = 1 << 20;
    private static final long GIB = 1L << 30;

    private TransferBenchmark() {
    }

    private record Figures(String image, long size, long data, double cp, double sha, double upload, double download) {
        String line() {
            return String.format(Locale.ROOT, "%-7s %6.0f MiB (%5.0f MiB data): upload %6.0f MiB/s (%.1f s), download %6.0f MiB/s (%.1f s); "
                            + "cp --sparse %6.0f MiB/s, sha256sum %6.0f MiB/s", image, size / MIB, data / MIB, size / MIB / upload, upload,
                    size / MIB / download, download, size / MIB / cp, size / MIB / sha);
        }

        String json() {
            return String.format(Locale.ROOT, "{\"image\":\"%s\",\"size_mib\":%.0f,\"data_mib\":%.0f,\"upload_mibs\":%.0f,\"download_mibs\":%.0f,"
                    + "\"cp_mibs\":%.0f,\"sha256_mibs\":%.0f}", image, size / MIB, data / MIB, size / MIB / upload, size / MIB / download,
                    size / MIB / cp, size / MIB / sha);
        }
    }

    public static void main(String[] args) throws Exception {
        long dense = (long) (Double.parseDouble(option(args, "--size-gib", "2")) * GIB);
        long sparse = (long) (Double.parseDouble(option(args, "--sparse-size-gib", "4")) * GIB);
        long sparseData = (long) (Double.parseDouble(option(args, "--sparse-data-gib", "0.5")) * GIB);
        Path dir = Files.createTempDirectory(Path.of(option(args, "--dir", System.getProperty("java.io.tmpdir"))), "sb-bench-transfer-");
        ImageTransferClient client = new ImageTransferClient(null);
        List<Figures> figures = new ArrayList<>();
        try (BenchStack stack = BenchStack.start(dir, "bench-host", c -> c)) {
            BenchRest rest = stack.rest;
            String domain = rest.domain("files", "file", Files.createDirectories(dir.resolve("files")));
            // A first small transfer warms the JIT and the transfer server, as a running SPM would be.
            figures.add(measure(rest, client, domain, dir, "warmup", 64L << 20, 64L << 20));
            figures.clear();
            figures.add(measure(rest, client, domain, dir, "dense", dense, dense));
            figures.add(measure(rest, client, domain, dir, "sparse", sparse, sparseData));
        }
        figures.forEach(f -> System.out.println(f.line()));
        System.out.println("[" + String.join(",", figures.stream().map(Figures::json).toList()) + "]");
    }

    private static Figures measure(BenchRest rest, ImageTransferClient client, String domain, Path dir, String name, long size, long data)
            throws Exception {
        Path image = dir.resolve(name + ".raw");
        fillRandom(image, size, data);
        Path copy = dir.resolve(name + ".cp");
        double cp = timed(() -> run("cp", "--sparse=always", image.toString(), copy.toString()));
        Files.delete(copy);
        double sha = timed(() -> run("sh", "-c", "sha256sum " + image + " > /dev/null"));

        long started = System.nanoTime();
        JsonObject created = rest.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", name).put("virtualSize", size)
                .put("format", "raw").put("source", new JsonObject().put("upload", new JsonObject().put("format", "raw"))));
        String transferId = created.getString("transferId");
        client.upload(url(rest, transferId), ImageTransferClient.Image.of(image));
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
        Files.delete(image);
        return new Figures(name, size, data, cp, sha, upload, download);
    }

    private static String url(BenchRest rest, String transferId) throws Exception {
        return readyTransfer(rest, transferId).getString("url");
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
}
