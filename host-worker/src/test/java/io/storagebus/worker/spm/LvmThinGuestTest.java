package io.storagebus.worker.spm;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.driver.Allocation;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.lvm.LvmDriver;
import io.storagebus.leases.SpmTerm;
import io.storagebus.schema.DomainRef;
import io.storagebus.schema.GuestPaused;
import io.storagebus.schema.GuestResumed;
import io.storagebus.schema.MonitorVolume;
import io.storagebus.schema.RefreshVolume;
import io.storagebus.schema.VolumeExtendFailed;
import io.storagebus.schema.VolumeExtended;
import io.storagebus.schema.VolumeWatermark;
import io.storagebus.testkit.QemuProcess;
import io.storagebus.testkit.WriterGuest;
import io.storagebus.worker.WorkerConfig;
import io.storagebus.worker.qmp.QmpClient;
import io.storagebus.worker.qmp.QmpListener;
import io.storagebus.worker.thin.ExtendPolicy;
import io.storagebus.worker.thin.VolumeMonitor;
import io.storagebus.worker.watchdog.WatchdogFeed;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Thin provisioning of a real guest on an LV, as on a SAN: the guest (a PC whose boot sector
 * writes through a virtio-blk disk, {@link WriterGuest}) writes past its qcow2 image's first
 * allocation on an LV. The host's real {@link VolumeMonitor} reports over QMP; the SPM's real
 * {@link VolumeExtender} grows the LV with {@code lvextend} under the term's fence, as another
 * host would (its lvm driver metadata-only, so the device here does not see the new extents);
 * only the host's {@code lvchange --refresh} on the answer grows the device under the guest.
 * The policy leaves no headroom, so each allocation's end is a real ENOSPC that pauses the guest
 * until the refresh resumes it. Kafka is left out: records go from one side to the other in
 * memory, the reports that came while the SPM was busy answered as one, as its loop does. Needs device-mapper: it runs in the
 * test VM ({@link LvmThinGuestInVmIT}), with QEMU nested under the VM's TCG.
 */
class LvmThinGuestTest {
    static final String DEVICE_MAPPER_REQUIRED = "storagebus.test.deviceMapper.required";
    private static final long MIB = Sizes.MIB;
    /** What the guest writes: the image's first 8 MiB and then three more extends' worth. */
    private static final long WRITTEN = 28 * MIB;
    private static final long CHUNK = 8 * MIB;

    @TempDir
    Path dir;
    private final MessageCodec codec = MessageCodec.standard();
    private final List<SpecificRecord> published = new CopyOnWriteArrayList<>();
    private final List<JsonObject> qemuEvents = new CopyOnWriteArrayList<>();
    private final ExecutorService spm = Executors.newSingleThreadExecutor();
    private final Vertx vertx = Vertx.vertx();
    private final List<AutoCloseable> opened = new ArrayList<>();
    private String loop;
    private String vg;

    @BeforeAll
    static void needsDeviceMapperQemuAndNasm() throws Exception {
        boolean dm = Files.readAllLines(Path.of("/proc/misc")).stream().anyMatch(l -> l.trim().endsWith(" device-mapper"));
        assertTrue(dm || !Boolean.getBoolean(DEVICE_MAPPER_REQUIRED), "device-mapper is missing (not in /proc/misc)");
        assumeTrue(dm, "skipped: device-mapper is missing (not in /proc/misc), so no LV can be activated here");
        assumeTrue(QemuProcess.available() && WriterGuest.available(), "skipped: needs " + QemuProcess.BINARY + " and nasm");
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
        spm.shutdownNow();
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        if (vg != null) {
            run("vgremove", "-f", "-q", vg);
        }
        if (loop != null) {
            run("pvremove", "-q", loop);
            run("losetup", "-d", loop);
        }
    }

    @Test
    void aGuestWritingPastItsAllocationOnAnLvIsExtendedByTheSpmRefreshedByItsHostAndResumed() throws Exception {
        vg = "sbthin" + Long.toHexString(System.nanoTime()).substring(6);
        Path pv = dir.resolve("pv.img");
        try (RandomAccessFile raf = new RandomAccessFile(pv.toFile(), "rw")) {
            raf.setLength(512 * MIB);
        }
        loop = run("losetup", "--find", "--show", pv.toString()).trim();
        run("pvcreate", "-q", loop);
        run("vgcreate", "-q", vg, loop);

        DomainRef domain = DomainRef.newBuilder().setId("dom-" + vg).setDriver("lvm").setProperties(Map.of(LvmDriver.VG, vg)).build();
        SpmTerm term = new SpmTerm("pool", "host-9", 4, Instant.now());
        StorageDriver hostDriver = DriverRegistry.wrap(new LvmDriver(true));
        // Made as the SPM makes it (it activates the new LV for a moment to write the qcow2 header).
        VolumeUri volume = hostDriver.create(SpmDrivers.context(domain, term),
                new VolumeSpec("disk", "disk", 64 * MIB, VolumeFormat.QCOW2, Allocation.THIN, CHUNK)).uri();
        // The SPM is another host of the SAN, where the LV is not active: its extends write the VG's metadata
        // only, never this host's device-mapper tables, so only this host's refresh can grow the guest's device.
        DriverRegistry spmDrivers = DriverRegistry.of(new LvmDriver(false));
        DomainContext hostDomain = new DomainContext(domain.getId(), domain.getProperties());
        String device = hostDriver.activate(hostDomain, volume);
        opened.add(() -> hostDriver.deactivate(hostDomain, volume));
        assertEquals(CHUNK, deviceSize(device));

        Path vm = dir.resolve("vm");
        List<String> args = new ArrayList<>(WriterGuest.args(vm, device, WRITTEN, false));
        args.addAll(List.of("-qmp", "unix:" + vm.resolve("test.sock") + ",server=on,wait=off", "-S"));
        QemuProcess qemu = QemuProcess.start(vm, args);
        opened.add(qemu);

        WorkerConfig config = WorkerConfig.of("host-1", "pool", "localhost:9", "localhost:9")
                .withExtendPolicy(new ExtendPolicy(CHUNK, 0, 0), Duration.ofMillis(500));
        VolumeExtender extender = new VolumeExtender(config, term, spmDrivers);
        AtomicReference<VolumeMonitor> host = new AtomicReference<>();
        // The reports that came while the SPM was busy are answered as one, the newest, as ExtendLoop coalesces a poll's.
        AtomicReference<VolumeWatermark> waiting = new AtomicReference<>();
        VolumeMonitor monitor = new VolumeMonitor(config, DriverRegistry.of(new LvmDriver(true)), record -> {
            if (decode(record) instanceof VolumeWatermark report && waiting.getAndSet(report) == null) {
                spm.execute(() -> {
                    for (ProducerRecord<String, byte[]> answer : extender.answer(waiting.getAndSet(null))) {
                        if (decode(answer) instanceof RefreshVolume refresh) {
                            host.get().refresh(refresh);
                        }
                    }
                });
            }
        }, new WatchdogFeed(null, Duration.ofSeconds(6), null));
        host.set(monitor);
        monitor.start();
        opened.add(monitor);
        monitor.watch(MonitorVolume.newBuilder().setEnvelope(Envelopes.origin("pool", "test", "thin-guest-on-lv")).setVolumeId(volume.volumeId()).setDomain(domain)
                .setHostId("host-1").setQmpSocket(qemu.qmpSocket().toString()).setNodeName("vol-file").setDrive("vol").build())
                .toCompletionStage().toCompletableFuture().get(2, TimeUnit.MINUTES);

        QmpClient qmp = QmpClient.connect(vertx, vm.resolve("test.sock"), new QmpListener() {
            @Override
            public void event(String name, JsonObject data, long timestampMicros) {
                qemuEvents.add(new JsonObject().put("event", name).put("data", data));
            }

            @Override
            public void closed(QmpClient client, Throwable cause) {
            }
        }).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        long started = System.nanoTime();
        qmp.execute("cont", null).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertTrue(qemu.awaitExit(Duration.ofMinutes(8)), "the guest finished writing; QEMU events: " + qemuEvents);
        double seconds = (System.nanoTime() - started) / 1e9;

        assertTrue(qemuEvents.stream().anyMatch(e -> "SHUTDOWN".equals(e.getString("event")) && e.getJsonObject("data").getBoolean("guest", false)),
                "the guest powered off after its last write (a failed write exits without it): " + qemuEvents);
        long nospace = qemuEvents.stream().filter(e -> "BLOCK_IO_ERROR".equals(e.getString("event"))
                && e.getJsonObject("data").getBoolean("nospace", false)).count();
        assertTrue(nospace > 0, "with no headroom the guest ran into the end of its allocation: " + qemuEvents);
        List<VolumeExtended> extended = await().atMost(Duration.ofSeconds(30)).until(() -> of(VolumeExtended.class), l -> l.size() >= 3);
        assertEquals(List.of(), of(VolumeExtendFailed.class));
        List<GuestPaused> paused = of(GuestPaused.class);
        List<GuestResumed> resumed = of(GuestResumed.class);
        assertFalse(paused.isEmpty(), "the pauses were reported");
        assertEquals(paused.size(), resumed.size(), "every pause was resumed: " + paused + " / " + resumed);
        assertTrue(extended.stream().anyMatch(VolumeExtended::getResumed), extended.toString());

        long lv = Long.parseLong(run("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size", vg + "/disk").trim());
        assertTrue(lv >= WRITTEN, "the LV grew to hold what was written: " + lv);
        assertEquals(lv, deviceSize(device), "the host's device was refreshed to the LV's size");
        String data = run("qemu-io", "-f", "qcow2", "-r", "-c", "read -P 0xa5 0 " + WRITTEN, device);
        assertFalse(data.contains("verification failed"), data);
        assertTrue(data.contains("read " + WRITTEN + "/" + WRITTEN + " bytes"), data);
        String check = run("qemu-img", "check", "-f", "qcow2", device);
        assertTrue(check.contains("No errors were found"), check);
        System.out.printf("a guest on an LV wrote %d MiB in %.1f s: %d ENOSPC pauses, %d extends (lvextend on the SPM + lvchange --refresh"
                + " on the host), LV %d MiB%n", WRITTEN / MIB, seconds, paused.size(), extended.size(), lv / MIB);
    }

    /** What a side sent, as its reader gets it; kept for the test's questions. */
    private SpecificRecord decode(ProducerRecord<String, byte[]> record) {
        try {
            SpecificRecord message = codec.decode(record.value());
            published.add(message);
            return message;
        } catch (UndecodableRecordException e) {
            throw new AssertionError("a side sent a record nobody could read: " + record, e);
        }
    }

    private <T> List<T> of(Class<T> type) {
        return published.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static long deviceSize(String device) throws Exception {
        return Long.parseLong(run("blockdev", "--getsize64", device).trim());
    }

    /** A command's standard output; its errors go to a file, said when it fails. */
    private static String run(String... cmd) throws Exception {
        Path errors = Files.createTempFile("cmd", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(errors.toFile());
            pb.environment().put("LVM_SUPPRESS_FD_WARNINGS", "1");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(2, TimeUnit.MINUTES), String.join(" ", cmd));
            assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out + Files.readString(errors));
            return out;
        } finally {
            Files.delete(errors);
        }
    }
}
