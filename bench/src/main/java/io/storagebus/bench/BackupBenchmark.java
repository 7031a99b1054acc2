package io.storagebus.bench;

import static io.storagebus.bench.BenchSupport.fillRandom;
import static io.storagebus.bench.BenchSupport.run;
import static io.storagebus.bench.BenchSupport.timed;

import static io.storagebus.bench.Figures.option;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.storagebus.testkit.S3MockServer;
import io.vertx.core.json.JsonObject;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Backup and restore of a qcow2 volume (default 4 GiB holding 1 GiB of data) through the whole
 * stack: REST request, SPM job, export of the snapshot, verified stream to an S3 server,
 * manifest; and back: download, checksum check, flatten, verified write into a new volume.
 * Next to it, what an operator would do by hand: {@code qemu-img convert} of the snapshot plus a
 * plain S3 upload of the result, and a plain download plus {@code qemu-img convert} back. Then an
 * incremental backup of a second snapshot after 64 MiB more were written, and its restore (two
 * layers). Every restore is compared with its snapshot by {@code qemu-img compare}.
 */
public final class BackupBenchmark {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    private BackupBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long size = (long) (Double.parseDouble(option(args, "--size-gib", "4")) * GIB);
        long data = (long) (Double.parseDouble(option(args, "--data-gib", "1")) * GIB);
        Path dir = Files.createTempDirectory(Path.of(option(args, "--dir", System.getProperty("java.io.tmpdir"))), "sb-bench-backup-");
        try (S3MockServer s3 = S3MockServer.start(dir.resolve("s3"));
             BenchStack stack = BenchStack.start(dir, "bench-spm", c -> c)) {
            BenchRest rest = stack.rest;
            String files = rest.domain("files", "file", Files.createDirectories(dir.resolve("files")));
            JsonObject bag = new JsonObject();
            s3.domainProperties().forEach(bag::put);
            bag.remove("part_size"); // the driver's default, as an operator would have it
            String objects = rest.post("/api/v1/domains", new JsonObject().put("name", "objects").put("driver", "object").put("properties", bag))
                    .getString("id");

            String volumeId = rest.volume(files, "bench", size);
            Path top = rest.top(volumeId);
            Path raw = dir.resolve("data.raw");
            fillRandom(raw, size, data);
            run("qemu-img", "convert", "-n", "--target-is-zero", "-f", "raw", "-O", "qcow2", raw.toString(), top.toString());
            Files.delete(raw);
            String first = rest.snapshot(volumeId, "first");

            // By hand: flatten the snapshot, upload it; download it, convert it back.
            Path exported = dir.resolve("export.qcow2");
            S3Client client = s3Client(s3);
            double handBackup = timed(() -> {
                run("qemu-img", "convert", "-U", "-O", "qcow2", rest.top(volumeId).resolveSibling(volumeId + ".qcow2").toString(), exported.toString());
                client.putObject(b -> b.bucket(S3MockServer.BUCKET).key("by-hand/export.qcow2"), RequestBody.fromFile(exported));
            });
            long exportedBytes = Files.size(exported);
            Files.delete(exported);
            Path downloaded = dir.resolve("download.qcow2");
            double handRestore = timed(() -> {
                client.getObject(b -> b.bucket(S3MockServer.BUCKET).key("by-hand/export.qcow2"), ResponseTransformer.toFile(downloaded));
                run("qemu-img", "convert", "-O", "qcow2", downloaded.toString(), dir.resolve("by-hand.qcow2").toString());
            });
            Files.delete(downloaded);
            Files.delete(dir.resolve("by-hand.qcow2"));

            BenchRest.Timed full = rest.task("/api/v1/volumes/" + volumeId + "/backups", new JsonObject().put("targetDomainId", objects).put("snapshotId", first));
            long fullBytes = rest.get("/api/v1/backups/" + full.answer().getString("backupId")).getLong("bytes");
            BenchRest.Timed restored = rest.task("/api/v1/backups/" + full.answer().getString("backupId") + "/restore",
                    new JsonObject().put("targetDomainId", files).put("name", "restored-full"));

            run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5c 128M 64M", rest.top(volumeId).toString());
            String second = rest.snapshot(volumeId, "second");
            BenchRest.Timed incremental = rest.task("/api/v1/volumes/" + volumeId + "/backups", new JsonObject().put("targetDomainId", objects)
                    .put("snapshotId", second).put("incremental", true));
            long incrementalBytes = rest.get("/api/v1/backups/" + incremental.answer().getString("backupId")).getLong("bytes");
            BenchRest.Timed restoredChain = rest.task("/api/v1/backups/" + incremental.answer().getString("backupId") + "/restore",
                    new JsonObject().put("targetDomainId", files).put("name", "restored-incremental"));
            double backup = full.seconds();
            double restore = restored.seconds();
            double incrementalBackup = incremental.seconds();
            double incrementalRestore = restoredChain.seconds();

            // The first snapshot's layer is the volume's base file; the top, empty since the second snapshot, reads as the second.
            run("qemu-img", "compare", "-U", rest.top(volumeId).resolveSibling(volumeId + ".qcow2").toString(),
                    rest.top(restored.answer().getString("volumeId")).toString());
            run("qemu-img", "compare", "-U", rest.top(volumeId).toString(), rest.top(restoredChain.answer().getString("volumeId")).toString());

            List<String> lines = new ArrayList<>();
            lines.add(String.format(Locale.ROOT, "volume: %d MiB qcow2 with %d MiB of data; full backup %d MiB, by-hand export %d MiB, incremental %d MiB",
                    size / MIB, data / MIB, fullBytes / MIB, exportedBytes / MIB, incrementalBytes / MIB));
            lines.add(row("by hand: qemu-img convert + S3 PUT", data, handBackup));
            lines.add(row("StorageBus full backup (REST -> COMPLETE)", data, backup));
            lines.add(row("by hand: S3 GET + qemu-img convert", data, handRestore));
            lines.add(row("StorageBus restore (REST -> READY)", data, restore));
            lines.add(row("StorageBus incremental backup (64 MiB)", 64 * MIB, incrementalBackup));
            lines.add(row("StorageBus restore of full + incremental", data, incrementalRestore));
            lines.add("both restores are identical to their snapshots (qemu-img compare)");
            lines.forEach(System.out::println);
            System.out.printf(Locale.ROOT, "{\"volume_mib\":%d,\"data_mib\":%d,\"by_hand_backup_s\":%.2f,\"backup_s\":%.2f,\"by_hand_restore_s\":%.2f,"
                            + "\"restore_s\":%.2f,\"incremental_backup_s\":%.2f,\"incremental_restore_s\":%.2f,\"full_backup_mib\":%d,"
                            + "\"incremental_backup_mib\":%d}%n",
                    size / MIB, data / MIB, handBackup, backup, handRestore, restore, incrementalBackup, incrementalRestore,
                    fullBytes / MIB, incrementalBytes / MIB);
        } finally {
            run("rm", "-rf", dir.toString());
        }
    }

    private static S3Client s3Client(S3MockServer s3) {
        Map<String, String> bag = s3.domainProperties();
        return S3Client.builder().endpointOverride(URI.create(bag.get("endpoint"))).region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(bag.get("access_key"), bag.get("secret_key"))))
                .forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(UrlConnectionHttpClient.builder()).build();
    }


    private static String row(String what, long bytes, double seconds) {
        return String.format(Locale.ROOT, "%-44s %7.1f s  %7.0f MiB/s of data", what, seconds, bytes / (double) MIB / seconds);
    }
}
