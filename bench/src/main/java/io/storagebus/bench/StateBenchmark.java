package io.storagebus.bench;

import static io.storagebus.bench.Figures.option;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Comparator;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.KafkaConnection;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.TaskType;
import io.storagebus.bus.Topics;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.Allocation;
import io.storagebus.schema.Envelope;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VolumeFormat;
import io.storagebus.schema.VolumeState;
import io.storagebus.schema.VolumeStatus;
import io.storagebus.testkit.EmbeddedKafka;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * What a manager's restart reads: the state topics of a pool with V volumes (each with the task
 * that made it) and T more finished tasks are written to a broker as the SPM and the manager
 * write them, then a state view (the manager's whole memory) reads them from the beginning,
 * timed, and its live heap is measured after a full GC. Volumes are measured first, alone, so
 * the cost of a volume and of a finished task are told apart.
 */
final class StateBenchmark {
    private static final MessageCodec CODEC = MessageCodec.standard();

    private StateBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int volumes = Integer.parseInt(option(args, "--volumes", "100000"));
        int tasks = Integer.parseInt(option(args, "--finished-tasks", "1000000"));
        Path dir = Files.createTempDirectory(Path.of(option(args, "--dir", System.getProperty("java.io.tmpdir"))), "sb-bench-state-");
        try (EmbeddedKafka broker = new EmbeddedKafka(dir.resolve("kafka"), 0).start()) {
            KafkaConnection kafka = KafkaConnection.plaintext(broker.bootstrapServers());
            try (Admin admin = KafkaClients.admin(kafka)) {
                Topics.ensure(admin, Topics.shared((short) 1));
            }
            String domainId = UUID.randomUUID().toString();
            long wrote = System.nanoTime();
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(bulk(kafka))) {
                for (int i = 0; i < volumes; i++) {
                    String volumeId = UUID.randomUUID().toString();
                    String taskId = UUID.randomUUID().toString();
                    producer.send(new ProducerRecord<>(Topics.VOLUME_STATE, volumeId, CODEC.encode(volume(domainId, volumeId, taskId, i))));
                    producer.send(new ProducerRecord<>(Topics.TASK_STATE, taskId, CODEC.encode(task(domainId, volumeId, taskId))));
                }
            }
            System.out.printf("wrote %,d volumes with their tasks in %.1f s%n", volumes, (System.nanoTime() - wrote) / 1e9);
            Reading withVolumes = read(kafka);
            System.out.printf("read %,d volumes and their tasks in %.2f s, live heap %,d MB (%,d bytes a volume with its task)%n",
                    volumes, withVolumes.seconds, withVolumes.heap >> 20, withVolumes.heap / Math.max(1, volumes));
            wrote = System.nanoTime();
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(bulk(kafka))) {
                for (int i = 0; i < tasks; i++) {
                    String taskId = UUID.randomUUID().toString();
                    producer.send(new ProducerRecord<>(Topics.TASK_STATE, taskId, CODEC.encode(task(domainId, UUID.randomUUID().toString(), taskId))));
                }
            }
            System.out.printf("wrote %,d finished tasks in %.1f s%n", tasks, (System.nanoTime() - wrote) / 1e9);
            Reading all = read(kafka);
            long perTask = (all.heap - withVolumes.heap) / Math.max(1, tasks);
            System.out.printf("read %,d volumes and %,d tasks in %.2f s (%,.0f records/s), live heap %,d MB (%,d bytes a finished task)%n",
                    volumes, volumes + tasks, all.seconds, (2.0 * volumes + tasks) / all.seconds, all.heap >> 20, perTask);
            System.out.println(new JsonObject().put("volumes", volumes).put("finishedTasks", tasks)
                    .put("readVolumesSeconds", round(withVolumes.seconds)).put("heapPerVolumeBytes", withVolumes.heap / Math.max(1, volumes))
                    .put("readAllSeconds", round(all.seconds)).put("heapAllMiB", all.heap >> 20).put("heapPerFinishedTaskBytes", perTask).encode());
        } finally {
            try (Stream<Path> paths = Files.walk(dir)) {
                paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    private record Reading(double seconds, long heap) {
    }

    /** Reads the state topics into a new view, as a starting manager does, and measures the heap it keeps. */
    private static Reading read(KafkaConnection kafka) throws Exception {
        long before = liveHeap();
        long start = System.nanoTime();
        try (StateView view = new StateView(kafka)) {
            view.start();
            view.caughtUp().get(10, TimeUnit.MINUTES);
            double seconds = (System.nanoTime() - start) / 1e9;
            long heap = liveHeap() - before;
            if (view.volumes().isEmpty()) {
                throw new IllegalStateException("the view read no volume");
            }
            return new Reading(seconds, heap);
        }
    }

    private static long liveHeap() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static Properties bulk(KafkaConnection kafka) {
        Properties p = KafkaClients.producer(kafka);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(1 << 20));
        return p;
    }

    private static VolumeState volume(String domainId, String volumeId, String taskId, int i) {
        Envelope envelope = Envelopes.causedBy(Envelopes.origin("default", "manager:bench", taskId), "host:host-1", 1L);
        return VolumeState.newBuilder().setEnvelope(envelope).setId(volumeId).setDomainId(domainId).setName("vm-" + i + "-disk0")
                .setVirtualSize(10L << 30).setFormat(VolumeFormat.RAW).setAllocation(Allocation.THIN).setStatus(VolumeStatus.READY)
                .setUri("file:///var/lib/storagebus/domains/d1/volumes/" + volumeId).setTaskId(taskId).setCreatedAt(Instant.now())
                .build();
    }

    private static TaskState task(String domainId, String volumeId, String taskId) {
        Envelope envelope = Envelopes.causedBy(Envelopes.origin("default", "manager:bench", taskId), "host:host-1", 1L);
        return TaskState.newBuilder().setEnvelope(envelope).setId(taskId).setType(TaskType.CREATE_VOLUME.name()).setStatus(TaskStatus.SUCCEEDED)
                .setDomainId(domainId).setVolumeId(volumeId).setCreatedAt(Instant.now()).build();
    }

    private static double round(double seconds) {
        return Math.round(seconds * 100) / 100.0;
    }
}
