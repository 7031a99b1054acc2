package io.storagebus.system;

import static io.storagebus.system.VolumeSteps.accepted;
import static io.storagebus.system.VolumeSteps.created;
import static io.storagebus.system.VolumeSteps.dataOf;
import static io.storagebus.system.VolumeSteps.output;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.dist.cli.ImageTransferClient;
import io.storagebus.worker.HostWorker;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upload whose SPM goes away halfway: the next SPM runs the transfer again at a new URL, the
 * client (as the CLI makes it) finds that URL through the manager and sends the image again, and
 * the volume gets the whole image, verified; nothing of the first SPM's staging survives it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ImageTransferFailoverIT {
    private static final long MIB = 1L << 20;
    private static final Duration WAIT = Duration.ofSeconds(90);

    private Cluster cluster;
    private Http http;
    private VolumeSteps steps;
    private Path dir;
    private String domain;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        this.dir = dir;
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        cluster.startWorker("host-2");
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
    void anUploadWhoseSpmStopsIsServedAgainByTheNextAndCompletes() throws Exception {
        byte[] bytes = new byte[(int) (16 * MIB)];
        new Random(7).nextBytes(bytes);
        Path image = Files.write(dir.resolve("image.raw"), bytes);
        JsonObject answer = accepted(http.post("/api/v1/domains/" + domain + "/volumes", new JsonObject().put("name", "moved-upload")
                .put("virtualSize", 16 * MIB).put("format", "raw")
                .put("source", new JsonObject().put("upload", new JsonObject().put("format", "raw")))));
        String transferId = answer.getString("transferId");
        String first = url(transferId);
        HttpResponse<String> half = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest.newBuilder(URI.create(first))
                .header("Content-Range", "bytes 0-" + (8 * MIB - 1) + "/" + 16 * MIB)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes, 0, (int) (8 * MIB))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, half.statusCode(), half.body());

        HostWorker spm = cluster.spm().orElseThrow();
        spm.close();
        AtomicReference<String> last = new AtomicReference<>();
        ImageTransferClient.Done done = new ImageTransferClient(null).upload(() -> {
            last.set(url(transferId));
            return last.get();
        }, ImageTransferClient.Image.of(image));
        assertEquals(ImageTransferClient.sha256Of(image), done.sha256());
        steps.awaitTask(transferId, "SUCCEEDED");
        assertNotEquals(first, last.get(), "the image went to the next SPM");
        Path data = dataOf(http.get("/api/v1/volumes/" + answer.getString("volumeId")).json());
        assertEquals("Images are identical.", output("qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(), data.toString()).trim());
    }

    /** Where the manager says the transfer is served now, once it is. */
    private String url(String transferId) {
        return await().atMost(WAIT).until(() -> http.get("/api/v1/transfers/" + transferId).json().getJsonObject("transfer"),
                t -> t.containsKey("url")).getString("url");
    }
}
