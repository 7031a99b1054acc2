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
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.storagebus.testkit.QemuProcess;
import io.storagebus.worker.qmp.QmpClient;
import io.storagebus.worker.qmp.QmpListener;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * A volume (default 4 GiB holding 1 GiB of data, frozen in a snapshot) moved live from a
 * {@code file} to a {@code blockfile} domain while its guest writes 1 MiB blocks at a set rate:
 * the time from the request to the move's success, split into the SPM's copy of the frozen
 * layer (until QEMU's mirror job appears), the mirror's convergence (until QEMU says it is
 * ready) and the rest (pivot, commit); the guest's slowest write before and during the move;
 * next to {@code qemu-img convert} of the same chain on the same disk. The last line is JSON.
 */
public final class MoveBenchmark {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    private MoveBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long size = (long) (Double.parseDouble(option(args, "--size-gib", "4")) * GIB);
        long data = (long) (Double.parseDouble(option(args, "--data-gib", "1")) * GIB);
        int rate = Integer.parseInt(option(args, "--write-rate-mb", "8"));
        Path dir = Files.createTempDirectory(Path.of(option(args, "--dir", System.getProperty("java.io.tmpdir"))), "sb-bench-move-");
        Vertx vertx = Vertx.vertx();
        ScheduledExecutorService writer = Executors.newSingleThreadScheduledExecutor();
        try (BenchStack stack = BenchStack.start(dir, "bench-host", c -> c.withQmpDirectory(dir))) {
            BenchRest rest = stack.rest;
            String files = rest.domain("files", "file", Files.createDirectories(dir.resolve("files")));
            String blocks = rest.domain("blocks", "blockfile", Files.createDirectories(dir.resolve("blocks")));
            String volumeId = rest.volume(files, "bench", size);
            Path raw = dir.resolve("data.raw");
            fillRandom(raw, size, data);
            run("qemu-img", "convert", "-n", "--target-is-zero", "-f", "raw", "-O", "qcow2", raw.toString(), rest.top(volumeId).toString());
            Files.delete(raw);
            rest.snapshot(volumeId, "frozen");
            double convert = timed(() -> run("qemu-img", "convert", "-O", "qcow2", rest.top(volumeId).toString(),
                    dir.resolve("blocks").resolve("by-hand.qcow2").toString()));
            Files.delete(dir.resolve("blocks").resolve("by-hand.qcow2"));

            rest.awaitTask(rest.post("/api/v1/volumes/" + volumeId + "/prepare", new JsonObject().put("hostId", "bench-host")).getString("taskId"));
            Path vm = Files.createDirectories(dir.resolve("vm"));
            Path top = rest.top(volumeId);
            try (QemuProcess qemu = QemuProcess.start(vm, List.of("-blockdev", "driver=file,filename=" + top + ",node-name=vol-file",
                    "-blockdev", "driver=qcow2,file=vol-file,node-name=vol", "-device", "virtio-blk-pci,drive=vol,id=disk0",
                    "-qmp", "unix:" + vm.resolve("bench.sock") + ",server=on,wait=off"))) {
                QmpClient qmp = QmpClient.connect(vertx, vm.resolve("bench.sock"), new QmpListener() {
                    @Override
                    public void event(String name, JsonObject eventData, long timestampMicros) {
                    }

                    @Override
                    public void closed(QmpClient c, Throwable cause) {
                    }
                }).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
                rest.post("/api/v1/volumes/" + volumeId + "/monitor", new JsonObject().put("qmpSocket", qemu.qmpSocket().toString())
                        .put("nodeName", "vol"));

                // The guest: 1 MiB writes at the set rate, each timed, over the first data-sized part of the disk.
                AtomicLong slowest = new AtomicLong();
                AtomicLong written = new AtomicLong();
                AtomicBoolean failed = new AtomicBoolean();
                writer.scheduleAtFixedRate(() -> {
                    long n = written.getAndIncrement();
                    long started = System.nanoTime();
                    try {
                        String said = String.valueOf(qmp.execute("human-monitor-command", new JsonObject().put("command-line",
                                "qemu-io -d /machine/peripheral/disk0/virtio-backend \"write -P " + (n % 250 + 1) + " " + (n * MIB) % data
                                        + " 1M\"")).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS));
                        failed.compareAndSet(false, said.contains("failed") || said.startsWith("Error"));
                    } catch (Exception e) {
                        failed.set(true);
                    }
                    slowest.accumulateAndGet(System.nanoTime() - started, Math::max);
                }, 0, 1_000_000 / rate, TimeUnit.MICROSECONDS);
                TimeUnit.SECONDS.sleep(5); // a baseline of the guest's writes before the move
                long slowestBefore = slowest.getAndSet(0);
                long writtenBefore = written.get();

                long started = System.nanoTime();
                String taskId = rest.post("/api/v1/volumes/" + volumeId + "/move", new JsonObject().put("targetDomainId", blocks)).getString("taskId");
                double mirrorStarted = 0;
                double mirrorReady = 0;
                // The guest's slowest write in each phase: the frozen copy, the mirror, the pivot and commit.
                long[] slowestIn = new long[3];
                while (true) {
                    double now = (System.nanoTime() - started) / 1e9;
                    JsonArray jobs = (JsonArray) qmp.execute("query-block-jobs").toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
                    if (!jobs.isEmpty()) {
                        if (mirrorStarted == 0) {
                            mirrorStarted = now;
                            slowestIn[0] = slowest.getAndSet(0);
                        }
                        if (jobs.getJsonObject(0).getBoolean("ready", false) && mirrorReady == 0) {
                            mirrorReady = now;
                            slowestIn[1] = slowest.getAndSet(0);
                        }
                    }
                    String status = rest.get("/api/v1/tasks/" + taskId).getString("status");
                    if ("FAILED".equals(status)) {
                        throw new IllegalStateException("the move failed: " + rest.get("/api/v1/tasks/" + taskId).encode());
                    }
                    if ("SUCCEEDED".equals(status)) {
                        break;
                    }
                    TimeUnit.MILLISECONDS.sleep(20);
                }
                double total = (System.nanoTime() - started) / 1e9;
                slowestIn[2] = slowest.get();
                long writtenDuring = written.get() - writtenBefore;
                writer.shutdownNow();
                writer.awaitTermination(60, TimeUnit.SECONDS);
                if (failed.get()) {
                    throw new IllegalStateException("a guest write failed during the move");
                }
                JsonObject moved = rest.get("/api/v1/volumes/" + volumeId);
                if (!blocks.equals(moved.getString("domainId"))) {
                    throw new IllegalStateException("not in the target: " + moved.encode());
                }
                List<String> lines = new ArrayList<>();
                lines.add(String.format(Locale.ROOT, "volume: %d MiB qcow2, %d MiB of data frozen in a snapshot; the guest writes %d MiB/s",
                        size / MIB, data / MIB, rate));
                lines.add(String.format(Locale.ROOT, "%-52s %7.2f s", "qemu-img convert of the chain (offline, same disk)", convert));
                lines.add(String.format(Locale.ROOT, "%-52s %7.2f s", "live move, request to SUCCEEDED", total));
                lines.add(String.format(Locale.ROOT, "%-52s %7.2f s", "  SPM copies the frozen layer (until the mirror starts)", mirrorStarted));
                lines.add(String.format(Locale.ROOT, "%-52s %7.2f s", "  mirror converges (until QEMU says ready)",
                        mirrorReady == 0 ? Double.NaN : mirrorReady - mirrorStarted));
                lines.add(String.format(Locale.ROOT, "%-52s %7.2f s", "  pivot and commit", mirrorReady == 0 ? Double.NaN : total - mirrorReady));
                lines.add(String.format(Locale.ROOT, "guest: %d writes during the move, none failed; slowest write %.1f ms before the move,"
                        + " %.1f ms during the frozen copy, %.1f ms during the mirror, %.1f ms around the pivot",
                        writtenDuring, slowestBefore / 1e6, slowestIn[0] / 1e6, slowestIn[1] / 1e6, slowestIn[2] / 1e6));
                lines.forEach(System.out::println);
                System.out.printf(Locale.ROOT, "{\"volume_mib\":%d,\"data_mib\":%d,\"write_rate_mib_s\":%d,\"convert_s\":%.2f,\"move_s\":%.2f,"
                                + "\"frozen_copy_s\":%.2f,\"mirror_s\":%.2f,\"pivot_commit_s\":%.2f,\"slowest_write_before_ms\":%.1f,"
                                + "\"slowest_write_frozen_copy_ms\":%.1f,\"slowest_write_mirror_ms\":%.1f,\"slowest_write_pivot_ms\":%.1f}%n",
                        size / MIB, data / MIB, rate, convert, total, mirrorStarted, mirrorReady - mirrorStarted, total - mirrorReady,
                        slowestBefore / 1e6, slowestIn[0] / 1e6, slowestIn[1] / 1e6, slowestIn[2] / 1e6);
                qmp.execute("quit");
            }
        } finally {
            writer.shutdownNow();
            vertx.close();
            run("rm", "-rf", dir.toString());
        }
    }
}
