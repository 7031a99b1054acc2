package io.storagebus.dist.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;

import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Topics;
import io.storagebus.bus.UndecodableRecordException;
import io.storagebus.manager.events.EventJson;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * {@code storagebus events tail}: the public events as they are published, one line each (time,
 * type, key, fields), or one JSON object a line with {@code --output json}. It reads
 * {@code storagebus.events} from its end (or beginning) without a consumer group, so it never
 * disturbs anyone's offsets.
 */
final class EventsTail {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS").withZone(ZoneId.systemDefault());

    private EventsTail() {
    }

    /** A Kafka client properties file (security.protocol, sasl.*, ssl.*), as Kafka's own tools take with --command-config. */
    private static Properties clientSecurity(String file) {
        Properties p = new Properties();
        if (file != null) {
            try (var in = java.nio.file.Files.newBufferedReader(java.nio.file.Path.of(file))) {
                p.load(in);
            } catch (java.io.IOException e) {
                throw new Invocation.UsageException("cannot read --command-config " + file + ": " + e.getMessage());
            }
        }
        return p;
    }

    static int run(Invocation call) {
        String bootstrap = call.optionOr("bootstrap-servers", call.env().get("STORAGEBUS_KAFKA_BOOTSTRAP_SERVERS"));
        if (bootstrap == null) {
            throw new Invocation.UsageException("say where Kafka is: --bootstrap-servers HOST:PORT or $STORAGEBUS_KAFKA_BOOTSTRAP_SERVERS");
        }
        Set<String> types = call.option("type") == null ? Set.of() : Set.of(call.option("type").split(","));
        String volume = call.option("volume");
        String domain = call.option("domain");
        long limit = call.option("count") == null ? Long.MAX_VALUE : call.integer("count");
        MessageCodec codec = MessageCodec.standard();
        Properties props = KafkaClients.consumer(bootstrap);
        props.putAll(clientSecurity(call.option("command-config")));
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "storagebus-events-tail");
        CountDownLatch stop = new CountDownLatch(1);
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props)) {
            Thread hook = new Thread(() -> {
                stop.countDown();
                consumer.wakeup();
            });
            Runtime.getRuntime().addShutdownHook(hook);
            List<TopicPartition> partitions = KafkaClients.partitionsOf(consumer, Topics.EVENTS, stop);
            consumer.assign(partitions);
            if (call.flag("from-beginning")) {
                consumer.seekToBeginning(partitions);
            } else {
                consumer.seekToEnd(partitions);
                partitions.forEach(consumer::position);
            }
            long printed = 0;
            while (printed < limit) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofSeconds(1))) {
                    SpecificRecord event;
                    try {
                        event = codec.decode(record.value());
                    } catch (UndecodableRecordException e) {
                        call.err().println("(offset " + record.offset() + " not decodable: " + e.getMessage() + ")");
                        continue;
                    }
                    if (!matches(event, types, volume, domain)) {
                        continue;
                    }
                    call.out().println(call.output().equals("json") ? json(record, event) : line(record, event));
                    if (++printed >= limit) {
                        break;
                    }
                }
            }
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (WakeupException e) {
            // Ctrl-C
        }
        return 0;
    }

    private static boolean matches(SpecificRecord event, Set<String> types, String volume, String domain) {
        return (types.isEmpty() || types.contains(event.getSchema().getName()))
                && (volume == null || volume.equals(field(event, "volumeId")) || volume.equals(field(event, "sourceVolumeId"))
                    || volume.equals(field(event, "targetVolumeId")))
                && (domain == null || domain.equals(field(event, "domainId")));
    }

    private static String field(SpecificRecord record, String name) {
        Schema.Field f = record.getSchema().getField(name);
        return f == null || record.get(f.pos()) == null ? null : record.get(f.pos()).toString();
    }

    private static String line(ConsumerRecord<String, byte[]> record, SpecificRecord event) {
        String fields = event.getSchema().getFields().stream()
                .filter(f -> !f.name().equals("envelope") && event.get(f.pos()) != null)
                .map(f -> f.name() + "=" + event.get(f.pos()))
                .collect(Collectors.joining(" "));
        return TIME.format(Instant.ofEpochMilli(record.timestamp())) + "  " + String.format("%-22s", event.getSchema().getName()) + " " + fields;
    }

    private static String json(ConsumerRecord<String, byte[]> record, SpecificRecord event) {
        return EventJson.message(record.key(), record.timestamp(), event).encode();
    }
}
