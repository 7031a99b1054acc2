package io.storagebus.subscriber;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.MessageCodec;
import io.storagebus.bus.Records;
import io.storagebus.bus.Topics;
import io.storagebus.schema.MaintenanceRequested;
import io.storagebus.schema.MaintenanceVote;
import io.storagebus.schema.MaintenanceVoter;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.SubscriberHeartbeat;
import io.storagebus.schema.VoteDecision;
import io.storagebus.testkit.EmbeddedKafka;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The subscriber library against a real broker: registration, votes, listening, and what it refuses. */
class StorageSubscriberTest {
    private static EmbeddedKafka kafka;
    private static KafkaProducer<String, byte[]> producer;

    @BeforeAll
    static void start(@TempDir Path dir) {
        kafka = new EmbeddedKafka(dir, EmbeddedKafka.freePort()).start();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            Topics.ensure(admin, Topics.shared((short) 1));
        }
        producer = new KafkaProducer<>(KafkaClients.producer(kafka.bootstrapServers()));
    }

    @AfterAll
    static void stop() {
        producer.close();
        kafka.close();
    }

    @Test
    void aRequestMadeRightAfterStartIsAnsweredAndTheListenerSeesIt() throws Exception {
        List<SpecificRecord> heard = new CopyOnWriteArrayList<>();
        try (StorageSubscriber billing = StorageSubscriber.builder(kafka.bootstrapServers(), "billing")
                .description("billing").silence(SilencePolicy.CONSENT).heartbeatInterval(Duration.ofSeconds(1))
                .voter(r -> r.getReason().contains("invoices") ? Vote.veto("invoice run") : Vote.consent())
                .listener(heard::add)
                .build()) {
            billing.start();
            MaintenanceRequested asked = publishRequest("invoices are being read", "billing");
            MaintenanceRequested notAsked = publishRequest("someone else's vote", "backup");
            MaintenanceRequested consented = publishRequest("firmware", "billing");

            List<MaintenanceVote> votes = await().atMost(Duration.ofSeconds(30)).until(StorageSubscriberTest::votes,
                    v -> v.stream().filter(x -> x.getRequestId().equals(asked.getRequestId()) || x.getRequestId().equals(consented.getRequestId())).count() == 2);
            MaintenanceVote veto = votes.stream().filter(v -> v.getRequestId().equals(asked.getRequestId())).findFirst().orElseThrow();
            assertEquals(VoteDecision.VETO, veto.getDecision());
            assertEquals("invoice run", veto.getReason());
            assertEquals("subscriber:billing", veto.getEnvelope().getIssuer());
            assertEquals(asked.getRequestId(), veto.getEnvelope().getCorrelationId());
            assertTrue(votes.stream().anyMatch(v -> v.getRequestId().equals(consented.getRequestId()) && v.getDecision() == VoteDecision.CONSENT));
            assertTrue(votes.stream().noneMatch(v -> v.getRequestId().equals(notAsked.getRequestId())), "it votes only where it was asked");
            await().atMost(Duration.ofSeconds(30)).until(() -> heard.size() >= 3);

            SubscriberHeartbeat beat = (SubscriberHeartbeat) lastValue(Topics.SUBSCRIBERS, "billing");
            assertEquals(SilencePolicy.CONSENT, beat.getSilence());
            assertEquals(1000, beat.getHeartbeatIntervalMs());
        }
    }

    @Test
    void aVoterThatFailsLeavesTheSubscriberSilent() throws Exception {
        try (StorageSubscriber broken = StorageSubscriber.builder(kafka.bootstrapServers(), "broken")
                .voter(r -> {
                    throw new IllegalStateException("database down");
                }).build()) {
            broken.start();
            MaintenanceRequested first = publishRequest("first", "broken");
            MaintenanceRequested later = publishRequest("later", "broken");
            // Answered by hand, after the failed one: only this vote appears.
            broken.vote(later, Vote.consent()).get();
            await().atMost(Duration.ofSeconds(30)).until(() -> votes().stream().anyMatch(v -> v.getRequestId().equals(later.getRequestId())));
            assertTrue(votes().stream().noneMatch(v -> v.getRequestId().equals(first.getRequestId())));
        }
    }

    @Test
    void badSubscribersAreRefusedBeforeTheyStart() {
        assertThrows(IllegalArgumentException.class, () -> StorageSubscriber.builder(kafka.bootstrapServers(), "../etc"));
        assertThrows(IllegalArgumentException.class, () -> Vote.veto(" "), "a veto says why");
        assertThrows(IllegalArgumentException.class,
                () -> StorageSubscriber.builder(kafka.bootstrapServers(), "fast").heartbeatInterval(Duration.ofMillis(10)));
    }

    private static MaintenanceRequested publishRequest(String reason, String voter) throws Exception {
        String requestId = UUID.randomUUID().toString();
        MaintenanceRequested request = MaintenanceRequested.newBuilder()
                .setEnvelope(Envelopes.origin("default", "manager:test", requestId)).setRequestId(requestId).setDomainId("d1")
                .setDomainName("array-1").setReason(reason).setDeadline(Instant.now().plusSeconds(60))
                .setVoters(List.of(MaintenanceVoter.newBuilder().setSubscriberId(voter).setDescription(voter).setSilence(SilencePolicy.VETO).build()))
                .build();
        producer.send(Records.of(Topics.EVENTS, "d1", request)).get();
        return request;
    }

    private static List<MaintenanceVote> votes() throws Exception {
        List<MaintenanceVote> votes = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : readAll(Topics.MAINTENANCE)) {
            votes.add((MaintenanceVote) MessageCodec.standard().decode(r.value()));
        }
        return votes;
    }

    private static SpecificRecord lastValue(String topic, String key) throws Exception {
        List<ConsumerRecord<String, byte[]>> records = readAll(topic).stream().filter(r -> key.equals(r.key())).toList();
        return MessageCodec.standard().decode(records.get(records.size() - 1).value());
    }

    private static List<ConsumerRecord<String, byte[]>> readAll(String topic) {
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaClients.consumer(kafka.bootstrapServers()))) {
            List<TopicPartition> partitions = KafkaClients.partitionsOf(c, topic);
            c.assign(partitions);
            c.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = c.endOffsets(partitions);
            List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
            while (partitions.stream().anyMatch(p -> c.position(p) < end.get(p))) {
                c.poll(Duration.ofMillis(200)).forEach(records::add);
            }
            return records;
        }
    }
}
