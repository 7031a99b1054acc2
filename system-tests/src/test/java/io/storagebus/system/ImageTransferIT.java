package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.assertError;
import static io.storagebus.system.VolumeSteps.created;
import static io.storagebus.system.VolumeSteps.dataOf;
import static io.storagebus.system.VolumeSteps.output;
import static io.storagebus.system.VolumeSteps.run;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;

import io.storagebus.dist.cli.ImageTransferClient;
import io.storagebus.dist.cli.ImageTransferClient.Image;
import io.storagebus.schema.ImageTransferred;
import io.storagebus.schema.TransferDirection;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images in and out of volumes over HTTP, against real storage and real {@code qemu-img}: a
 * qcow2 image uploaded into a new raw volume comes back identical in both formats, and sparse
 * all the way (holes stay holes in the volume and in the downloaded file); an upload survives a
 * connection broken mid-chunk; while a transfer runs the volume is locked, and a cancelled,
 * expired or refused (wrong checksum, backing file) upload leaves the volume as it was.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImageTransferIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);

    private Cluster cluster;
    private Http http;
    private VolumeSteps steps;
    private Path dir;
    private String domain;
    private final ImageTransferClient client = new ImageTransferClient(null);

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        this.dir = dir;
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        http = new Http(cluster.startManager().baseUrl());
        steps = new VolumeSteps(http, cluster.kafka.bootstrapServers(), WAIT);
        await().atMost(WAIT).until(() -> http.get("/api/v1/health").status() == 200);
        domain = created(http.post("/api/v1/domains", new JsonObject().put("name", "images").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("files")).toString()))));
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(cluster);
    }

    @Test
    void aQcow2ImageUploadedIntoANewRawVolumeComesBackIdenticalAndSparse() throws Exception {
        Path image = dir.resolve("guest.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "64M");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 3M", "-c", "write -P 0xcd 60M 1M", image.toString());
        Image found = Image.of(image);
        assertEquals("qcow2", found.format());
        assertEquals(64 * MIB, found.virtualSize());

        JsonObject answer = accepted(http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", "from-qcow2")
                .put("virtualSize", found.virtualSize()).put("format", "raw")
                .put("source", new JsonObject().put("upload", new JsonObject().put("format", "qcow2")))));
        String volumeId = answer.getString("volumeId");
        String transferId = answer.getString("transferId");
        assertNotNull(transferId, answer.encode());
        ImageTransferClient.Done done = client.upload(url(transferId), found);
        assertEquals(ImageTransferClient.sha256Of(image), done.sha256());
        steps.awaitTask(transferId, "SUCCEEDED");
        JsonObject transfer = http.get("/api/v1/transfers/" + transferId).json();
        assertEquals(done.sha256(), transfer.getJsonObject("transfer").getString("sha256"), transfer.encode());
        assertNull(http.get("/api/v1/tasks/" + transferId).json().getJsonObject("transfer").getString("url"),
                "a task shows no URL: it carries the ticket");
        ImageTransferred event = steps.events(ImageTransferred.class).stream().filter(e -> e.getTaskId().equals(transferId)).findFirst()
                .orElseThrow();
        assertEquals(TransferDirection.UPLOAD, event.getDirection());
        assertEquals(done.sha256(), event.getSha256());

        Path data = dataOf(http.get("/api/v1/volumes/" + volumeId).json());
        assertEquals("Images are identical.", output("qemu-img", "compare", "-f", "qcow2", "-F", "raw", image.toString(), data.toString()).trim());
        assertTrue(allocated(data) < 8 * MIB, "the volume keeps the image's holes: " + allocated(data) + " bytes allocated of 64 MiB");

        Path raw = dir.resolve("back.raw");
        download(volumeId, "raw", raw);
        assertEquals(64 * MIB, Files.size(raw));
        assertEquals("Images are identical.", output("qemu-img", "compare", "-f", "qcow2", "-F", "raw", image.toString(), raw.toString()).trim());
        assertTrue(allocated(raw) < 8 * MIB, "zeros are not sent, the downloaded file keeps the holes: " + allocated(raw));
        Path qcow2 = dir.resolve("back.qcow2");
        download(volumeId, "qcow2", qcow2);
        assertEquals("Images are identical.", output("qemu-img", "compare", image.toString(), qcow2.toString()).trim());
        assertTrue(Files.size(qcow2) < 8 * MIB, "a qcow2 download is compact: " + Files.size(qcow2));
    }

    @Test
    void aChunkCutOffMidwayIsNotCountedAndTheUploadCompletesWhenSentAgain() throws Exception {
        String volumeId = volume("resumed", 24 * MIB);
        Path image = randomImage("resumed.raw", 24 * MIB);
        String transferId = startTransfer(volumeId, "upload", "raw", 300);
        String url = url(transferId);

        // 8 MiB announced, 1 MiB sent, then the connection breaks.
        URI uri = URI.create(url);
        try (Socket socket = new Socket(uri.getHost(), uri.getPort())) {
            OutputStream out = socket.getOutputStream();
            out.write(("PUT " + uri.getPath() + " HTTP/1.1\r\nHost: " + uri.getHost() + "\r\nContent-Length: " + 8 * MIB
                    + "\r\nContent-Range: bytes 0-" + (8 * MIB - 1) + "/" + 24 * MIB + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(Files.readAllBytes(image), 0, (int) MIB);
            out.flush();
        }
        JsonObject status = await().atMost(WAIT).until(() -> new JsonObject(get(url + "/status").body()),
                s -> s.getLong("doneBytes") == 0 && s.getLong("size") == 24 * MIB);
        assertTrue(status.getJsonArray("received").isEmpty(), "a chunk that did not all arrive counts for nothing: " + status.encode());
        assertEquals("RUNNING", http.get("/api/v1/transfers/" + transferId).json().getString("status"), "the transfer goes on");

        ImageTransferClient.Done done = client.upload(url, Image.of(image));
        assertEquals(24 * MIB, done.size());
        steps.awaitTask(transferId, "SUCCEEDED");
        Path data = dataOf(http.get("/api/v1/volumes/" + volumeId).json());
        assertEquals("Images are identical.", output("qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(), data.toString()).trim());
        Path back = dir.resolve("resumed.back");
        download(volumeId, "raw", back);
        assertEquals(-1, Files.mismatch(image, back), "the image comes back byte for byte");
    }

    @Test
    void whileATransferRunsTheVolumeIsLockedAndACancelLeavesItAsItWas() throws Exception {
        String volumeId = volume("locked", 16 * MIB);
        Path data = dataOf(http.get("/api/v1/volumes/" + volumeId).json());
        run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 2M", data.toString());
        String transferId = startTransfer(volumeId, "upload", "raw", 300);
        String url = url(transferId);

        assertError(http.post("/api/v1/volumes/" + volumeId + "/resize", new JsonObject().put("virtualSize", 32 * MIB)), 409, "VOLUME_BUSY", null);
        assertError(http.delete("/api/v1/volumes/" + volumeId), 409, "VOLUME_BUSY", null);
        assertError(http.post("/api/v1/volumes/" + volumeId + "/transfers", new JsonObject().put("direction", "download")), 409, "VOLUME_BUSY", null);
        // A prepare is not checked by the manager against tasks; the host's lease is taken by the SPM's transfer, so the host refuses.
        JsonObject prepare = accepted(http.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "host-1")));
        steps.awaitTask(prepare.getString("taskId"), "FAILED");

        assertEquals(200, put(url, new byte[(int) MIB], 0, 16 * MIB).statusCode(), "data arrives, staged beside the volume");
        await().atMost(WAIT).until(() -> http.get("/api/v1/transfers/" + transferId).json(),
                t -> t.getLong("doneBytes", 0L) == MIB && t.getLong("totalBytes", 0L) == 16 * MIB); // progress, as it comes
        JsonObject cancelled = http.delete("/api/v1/transfers/" + transferId).json();
        assertEquals("CANCELLING", cancelled.getString("status"), cancelled.encode());
        steps.awaitTask(transferId, "FAILED");
        assertEquals("CANCELLED", http.get("/api/v1/transfers/" + transferId).json().getJsonObject("error").getString("code"));
        run("qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 2M", data.toString());
        assertEquals(404, put(url, new byte[16], 0, 16 * MIB).statusCode(), "the URL died with the transfer");
        steps.awaitTask(accepted(http.post("/api/v1/volumes/" + volumeId + "/resize", new JsonObject().put("virtualSize", 32 * MIB)))
                .getString("taskId"), "SUCCEEDED");
    }

    @Test
    void aTransferNobodyUsesExpiresAndItsVolumeIsFreeAgain() throws Exception {
        String volumeId = volume("forgotten", 8 * MIB);
        String transferId = startTransfer(volumeId, "download", "raw", 5);
        url(transferId);
        steps.awaitTask(transferId, "FAILED");
        JsonObject transfer = http.get("/api/v1/transfers/" + transferId).json();
        assertEquals("TRANSFER_EXPIRED", transfer.getJsonObject("error").getString("code"), transfer.encode());
        Path raw = dir.resolve("after-expiry.raw");
        download(volumeId, "raw", raw);
        assertEquals(8 * MIB, Files.size(raw));
    }

    @Test
    void aWrongChecksumOrAnImageNamingAHostFileIsRefusedAndNothingIsWritten() throws Exception {
        String volumeId = volume("guarded", 16 * MIB);
        Path data = dataOf(http.get("/api/v1/volumes/" + volumeId).json());
        run("qemu-io", "-f", "raw", "-c", "write -P 0x77 0 1M", data.toString());

        Path image = randomImage("corrupted.raw", 4 * MIB);
        String transferId = startTransfer(volumeId, "upload", "raw", 300);
        String url = url(transferId);
        byte[] bytes = Files.readAllBytes(image);
        assertEquals(200, put(url, bytes, 0, bytes.length).statusCode());
        HttpResponse<String> finish = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url + "/finish"))
                .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("sha256", "00".repeat(32)).encode())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(409, finish.statusCode(), finish.body());
        assertEquals("CHECKSUM_MISMATCH", new JsonObject(finish.body()).getString("code"));
        steps.awaitTask(transferId, "FAILED");
        run("qemu-io", "-f", "raw", "-c", "read -P 0x77 0 1M", data.toString());

        // A qcow2 image whose backing file is a file of the SPM's host: reading it into the volume would hand that file out.
        Path secret = Files.writeString(dir.resolve("host-secret"), "not for guests");
        Path sneaky = dir.resolve("sneaky.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", "-b", secret.toString(), "-F", "raw", sneaky.toString(), "16M");
        String second = startTransfer(volumeId, "upload", "qcow2", 300);
        IOException refused = assertThrows(IOException.class, () -> client.upload(url(second), Image.of(sneaky)));
        assertTrue(refused.getMessage().contains("INVALID_IMAGE") && refused.getMessage().contains("backing file"), refused.getMessage());
        steps.awaitTask(second, "FAILED");
        run("qemu-io", "-f", "raw", "-c", "read -P 0x77 0 1M", data.toString());
    }

    /** Into a qcow2 volume that exists, whose data the image replaces; a download gives the same image back. */
    @Test
    void aQcow2ImageReplacesTheDataOfAQcow2Volume() throws Exception {
        JsonObject made = accepted(http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", "replaced")
                .put("virtualSize", 64 * MIB).put("format", "qcow2")));
        steps.awaitTask(made.getString("taskId"), "SUCCEEDED");
        String volumeId = made.getString("volumeId");
        Path image = dir.resolve("replacing.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "32M");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 2M", image.toString());
        String transferId = startTransfer(volumeId, "upload", "qcow2", 300);
        client.upload(url(transferId), Image.of(image));
        steps.awaitTask(transferId, "SUCCEEDED");
        Path data = dataOf(http.get("/api/v1/volumes/" + volumeId).json());
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0x11 0 2M", "-c", "read -P 0 2M 62M", data.toString());
        assertTrue(output("qemu-img", "info", "--output=json", data.toString()).contains("\"virtual-size\": " + 64 * MIB),
                "the volume keeps its size, larger than the image's");
        Path back = dir.resolve("replaced.qcow2");
        download(volumeId, "qcow2", back);
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0x11 0 2M", back.toString());
    }

    /** Into a thin qcow2 volume on block storage, whose allocation is grown for the image before it is written. */
    @Test
    void aQcow2ImageGoesIntoAThinVolumeOnBlockStorage() throws Exception {
        String blocks = created(http.post("/api/v1/domains", new JsonObject().put("name", "blocks").put("driver", "blockfile")
                .put("properties", new JsonObject().put("path", Files.createDirectories(dir.resolve("blocks")).toString()))));
        Path image = dir.resolve("thin.qcow2");
        run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "256M");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x3c 0 24M", "-c", "write -P 0x4d 200M 8M", image.toString());
        JsonObject answer = accepted(http.post("/api/v1/domains/" + blocks + "/volumes", new JsonObject().put("name", "thin-from-image")
                .put("virtualSize", 256 * MIB).put("format", "qcow2").put("initialSize", 8 * MIB)
                .put("source", new JsonObject().put("upload", new JsonObject()))));
        String transferId = answer.getString("transferId");
        client.upload(url(transferId), Image.of(image));
        steps.awaitTask(transferId, "SUCCEEDED");
        Path data = dataOf(http.get("/api/v1/volumes/" + answer.getString("volumeId")).json());
        assertTrue(Files.size(data) >= 32 * MIB, "the allocation grew to hold the image: " + Files.size(data));
        assertEquals("Images are identical.", output("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", image.toString(), data.toString()).trim());
    }

    @Test
    void badRequestsAreRefusedWithTheirField() throws Exception {
        String volumeId = volume("asked-badly", 8 * MIB);
        assertError(http.post("/api/v1/volumes/" + volumeId + "/transfers", new JsonObject()), 400, "MISSING_FIELD", "direction");
        assertError(http.post("/api/v1/volumes/" + volumeId + "/transfers", new JsonObject().put("direction", "sideways")), 400,
                "INVALID_VALUE", "direction");
        assertError(http.post("/api/v1/volumes/" + volumeId + "/transfers", new JsonObject().put("direction", "upload").put("format", "vmdk")),
                400, "INVALID_VALUE", "format");
        assertError(http.post("/api/v1/volumes/" + volumeId + "/transfers", new JsonObject().put("direction", "upload")
                .put("inactivityTimeout", 1)), 400, "OUT_OF_RANGE", "inactivityTimeout");
        assertEquals(404, http.get("/api/v1/transfers/" + java.util.UUID.randomUUID()).status());
        JsonObject layered = accepted(http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", "layered")
                .put("virtualSize", 8 * MIB).put("format", "qcow2")));
        steps.awaitTask(layered.getString("taskId"), "SUCCEEDED");
        steps.snapshot(layered.getString("volumeId"), "kept");
        assertError(http.post("/api/v1/volumes/" + layered.getString("volumeId") + "/transfers", new JsonObject().put("direction", "upload")), 409,
                "VOLUME_HAS_SNAPSHOTS", null);
    }

    private String volume(String name, long size) {
        JsonObject answer = accepted(http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", name)
                .put("virtualSize", size).put("format", "raw")));
        steps.awaitTask(answer.getString("taskId"), "SUCCEEDED");
        return answer.getString("volumeId");
    }

    private String startTransfer(String volumeId, String direction, String format, int inactivityTimeout) {
        JsonObject answer = accepted(http.post("/api/v1/volumes/" + volumeId + "/transfers", new JsonObject().put("direction", direction)
                .put("format", format).put("inactivityTimeout", inactivityTimeout)));
        assertEquals(answer.getString("taskId"), answer.getString("transferId"));
        return answer.getString("transferId");
    }

    /** The transfer's URL, once its SPM serves it. */
    private String url(String transferId) {
        return await().atMost(WAIT).until(() -> http.get("/api/v1/transfers/" + transferId).json().getJsonObject("transfer"),
                t -> t.containsKey("url")).getString("url");
    }

    private void download(String volumeId, String format, Path file) throws Exception {
        String transferId = startTransfer(volumeId, "download", format, 300);
        String url = url(transferId);
        JsonObject transfer = http.get("/api/v1/transfers/" + transferId).json().getJsonObject("transfer");
        client.download(url, file, transfer.getLong("sizeBytes"), transfer.getString("sha256"));
        steps.awaitTask(transferId, "SUCCEEDED");
    }

    private Path randomImage(String name, long size) throws IOException {
        byte[] bytes = new byte[(int) size];
        new Random(size).nextBytes(bytes);
        return Files.write(dir.resolve(name), bytes);
    }

    private static HttpResponse<String> put(String url, byte[] data, long start, long total) throws Exception {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest.newBuilder(URI.create(url))
                .header("Content-Range", "bytes " + start + "-" + (start + data.length - 1) + "/" + total)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(data)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String url) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Bytes the file occupies on disk (st_blocks), not its length. */
    private static long allocated(Path file) throws Exception {
        return Long.parseLong(output("stat", "-c", "%b", file.toString()).trim()) * 512;
    }
}
