package io.storagebus.bench;

import static io.storagebus.bench.BenchSupport.fillRandom;
import static io.storagebus.bench.BenchSupport.run;
import static io.storagebus.bench.BenchSupport.timed;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.storagebus.driver.Allocation;
import io.storagebus.driver.CheckedDriver;
import io.storagebus.driver.CopyListener;
import io.storagebus.driver.CopyResult;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.PropertyValidator;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.file.FileDriver;
import io.storagebus.driver.object.ObjectDriver;
import io.storagebus.testkit.S3MockServer;

/**
 * A thin raw volume (default 4 GiB holding 1 GiB of data) copied file → object store → file with
 * StorageBus's verified stream copy, next to {@code cp} and {@code qemu-img convert} of the same
 * file on the same disk. Prints throughput (of the volume's size) and the JVM's peak heap; run
 * it with {@code -Xmx256m} (bin/storagebus does) to hold the copy to that heap.
 */
public final class CopyBenchmark {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    private CopyBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long size = (long) (option(args, "--size-gib", 4) * GIB);
        long data = (long) (option(args, "--data-gib", 1) * GIB);
        Path dir = Files.createTempDirectory(Path.of(optionString(args, "--dir", System.getProperty("java.io.tmpdir"))), "sb-bench-copy-");
        List<String> lines = new ArrayList<>();
        try (S3MockServer s3 = S3MockServer.start(dir.resolve("s3"))) {
            StorageDriver file = new CheckedDriver(new FileDriver());
            StorageDriver object = new CheckedDriver(new ObjectDriver());
            DomainContext files = new DomainContext("files", Map.of(FileDriver.PATH, Files.createDirectories(dir.resolve("files")).toString()));
            Map<String, String> bag = new java.util.HashMap<>(s3.domainProperties());
            bag.remove(ObjectDriver.PART_SIZE); // the driver's default part size unless asked for another
            String partSize = optionString(args, "--part-size", null);
            if (partSize != null) {
                bag.put(ObjectDriver.PART_SIZE, partSize);
            }
            DomainContext objects = new DomainContext("objects", PropertyValidator.validate(object, bag).properties());

            VolumeInfo source = file.create(files, new VolumeSpec("source", "source", size, VolumeFormat.RAW, Allocation.THIN));
            Path sourceFile = Path.of(java.net.URI.create(source.location()));
            fillRandom(sourceFile, size, data);
            lines.add(String.format(Locale.ROOT, "volume: %d MiB raw, %d MiB of data (%d MiB on disk); multipart part size %s",
                    size / MIB, data / MIB, file.info(files, source.uri()).actualSize() / MIB, objects.property(ObjectDriver.PART_SIZE)));

            double cp = timed(() -> run("cp", sourceFile.toString(), dir.resolve("cp.raw").toString()));
            double convert = timed(() -> run("qemu-img", "convert", "-f", "raw", "-O", "raw", sourceFile.toString(), dir.resolve("convert.raw").toString()));
            Files.delete(dir.resolve("cp.raw"));
            Files.delete(dir.resolve("convert.raw"));

            resetPeaks();
            CopyResult up = file.copyTo(files, source.uri(), object, objects,
                    new VolumeSpec("backup", "backup", size, VolumeFormat.RAW, Allocation.THIN), CopyListener.NONE);
            CopyResult down = object.copyTo(objects, up.target().uri(), file, files,
                    new VolumeSpec("restored", "restored", size, VolumeFormat.RAW, Allocation.THIN), CopyListener.NONE);
            long peakHeap = peakHeap();
            if (!up.sha256().equals(down.sha256())) {
                throw new IllegalStateException("restore does not match the source");
            }

            lines.add(row("cp (same disk)", size, cp));
            lines.add(row("qemu-img convert -O raw", size, convert));
            lines.add(row("file -> object: stream", size, up.copyNanos() / 1e9));
            lines.add(row("file -> object: verify read-back", size, up.verifyNanos() / 1e9));
            lines.add(row("object -> file: stream", size, down.copyNanos() / 1e9));
            lines.add(row("object -> file: verify read-back", size, down.verifyNanos() / 1e9));
            lines.add(String.format(Locale.ROOT, "restored volume on disk: %d MiB; peak heap during the copies: %d MiB of %d MiB max",
                    file.info(files, down.target().uri()).actualSize() / MIB, peakHeap / MIB, Runtime.getRuntime().maxMemory() / MIB));
            lines.forEach(System.out::println);
            System.out.printf(Locale.ROOT, "{\"volume_mib\":%d,\"data_mib\":%d,\"cp_mibs\":%.0f,\"qemu_img_convert_mibs\":%.0f,"
                            + "\"upload_mibs\":%.0f,\"upload_verify_mibs\":%.0f,\"download_mibs\":%.0f,\"download_verify_mibs\":%.0f,"
                            + "\"peak_heap_mib\":%d,\"max_heap_mib\":%d}%n",
                    size / MIB, data / MIB, mibs(size, cp), mibs(size, convert), mibs(size, up.copyNanos() / 1e9),
                    mibs(size, up.verifyNanos() / 1e9), mibs(size, down.copyNanos() / 1e9), mibs(size, down.verifyNanos() / 1e9),
                    peakHeap / MIB, Runtime.getRuntime().maxMemory() / MIB);
        } finally {
            run("rm", "-rf", dir.toString());
        }
    }


    private static String row(String what, long bytes, double seconds) {
        return String.format(Locale.ROOT, "%-34s %7.1f s  %7.0f MiB/s", what, seconds, mibs(bytes, seconds));
    }

    private static double mibs(long bytes, double seconds) {
        return bytes / (double) MIB / seconds;
    }

    private static void resetPeaks() {
        System.gc();
        ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
    }

    private static long peakHeap() {
        return ManagementFactory.getMemoryPoolMXBeans().stream().filter(p -> p.getType() == MemoryType.HEAP)
                .mapToLong(p -> p.getPeakUsage().getUsed()).sum();
    }

    private static double option(String[] args, String name, double defaultValue) {
        return Double.parseDouble(optionString(args, name, Double.toString(defaultValue)));
    }

    private static String optionString(String[] args, String name, String defaultValue) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return defaultValue;
    }
}
