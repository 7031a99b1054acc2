package io.storagebus.manager.maintenance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import io.storagebus.bus.Envelopes;
import io.storagebus.manager.maintenance.MaintenanceBallot.Abort;
import io.storagebus.manager.maintenance.MaintenanceBallot.Counted;
import io.storagebus.manager.maintenance.MaintenanceBallot.Pending;
import io.storagebus.manager.maintenance.MaintenanceBallot.Start;
import io.storagebus.schema.CastVote;
import io.storagebus.schema.MaintenanceVoter;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VoteDecision;
import org.junit.jupiter.api.Test;

class MaintenanceBallotTest {
    private static final Instant T0 = Instant.parse("2026-11-21T10:00:00Z");
    private static final Instant DEADLINE = T0.plusSeconds(60);

    private static MaintenanceVoter voter(String id, SilencePolicy silence) {
        return MaintenanceVoter.newBuilder().setSubscriberId(id).setDescription(id).setSilence(silence).build();
    }

    private static MaintenanceBallot ballot(MaintenanceVoter... voters) {
        List<MaintenanceVoter> all = new java.util.ArrayList<>(List.of(voters));
        all.add(MaintenanceBallot.selfVoter());
        return new MaintenanceBallot(all, List.of(), DEADLINE);
    }

    @Test
    void anyVetoAbortsAtOnceWithItsReason() {
        MaintenanceBallot ballot = ballot(voter("billing", SilencePolicy.CONSENT), voter("backup", SilencePolicy.CONSENT));
        ballot.record("billing", VoteDecision.VETO, "invoice run", T0);
        Abort abort = assertInstanceOf(Abort.class, ballot.decide(T0, Optional::empty));
        assertEquals(1, abort.vetoes().size());
        assertEquals("invoice run", abort.vetoes().get(0).getReason());
    }

    @Test
    void waitsForSilentVotersUntilTheDeadline() {
        MaintenanceBallot ballot = ballot(voter("billing", SilencePolicy.VETO), voter("backup", SilencePolicy.CONSENT));
        ballot.record("backup", VoteDecision.CONSENT, null, T0);
        Pending pending = assertInstanceOf(Pending.class, ballot.decide(T0.plusSeconds(1), Optional::empty));
        assertEquals(1, pending.silent());
        assertEquals(List.of("billing"), ballot.silentSubscribers());
    }

    @Test
    void unanimousConsentStartsAfterStorageBusConsents() {
        MaintenanceBallot ballot = ballot(voter("billing", SilencePolicy.VETO));
        ballot.record("billing", VoteDecision.CONSENT, null, T0);
        Start start = assertInstanceOf(Start.class, ballot.decide(T0, Optional::empty));
        assertEquals(List.of("billing", MaintenanceBallot.STORAGEBUS), start.consents().stream().map(CastVote::getSubscriberId).toList());
    }

    @Test
    void silenceAtTheDeadlineCountsUnderEachPolicy() {
        MaintenanceBallot consenting = ballot(voter("quiet", SilencePolicy.CONSENT));
        Start start = assertInstanceOf(Start.class, consenting.decide(DEADLINE, Optional::empty));
        assertTrue(start.consents().get(0).getSilent());

        MaintenanceBallot vetoing = ballot(voter("quiet", SilencePolicy.VETO), voter("loud", SilencePolicy.VETO));
        vetoing.record("loud", VoteDecision.CONSENT, null, T0);
        Abort abort = assertInstanceOf(Abort.class, vetoing.decide(DEADLINE, Optional::empty));
        assertEquals("quiet", abort.vetoes().get(0).getSubscriberId());
        assertTrue(abort.vetoes().get(0).getSilent());
    }

    @Test
    void storageBusVotesLastAndOnlyWhenTheRestConsents() {
        AtomicInteger asked = new AtomicInteger();
        MaintenanceBallot ballot = ballot(voter("billing", SilencePolicy.VETO));
        assertInstanceOf(Pending.class, ballot.decide(T0, () -> {
            asked.incrementAndGet();
            return Optional.of("tasks run");
        }));
        assertEquals(0, asked.get(), "StorageBus does not judge before the others have voted");
        ballot.record("billing", VoteDecision.CONSENT, null, T0);
        Abort abort = assertInstanceOf(Abort.class, ballot.decide(T0, () -> {
            asked.incrementAndGet();
            return Optional.of("1 task(s) still run");
        }));
        assertEquals(1, asked.get());
        assertEquals(MaintenanceBallot.STORAGEBUS, abort.vetoes().get(0).getSubscriberId());
    }

    @Test
    void theFirstVoteCountsAndStrangersAreNotCounted() {
        MaintenanceBallot ballot = ballot(voter("billing", SilencePolicy.VETO));
        assertEquals(Counted.COUNTED, ballot.record("billing", VoteDecision.CONSENT, null, T0));
        assertEquals(Counted.DUPLICATE, ballot.record("billing", VoteDecision.VETO, "changed my mind", T0));
        assertEquals(Counted.NOT_A_VOTER, ballot.record("intruder", VoteDecision.VETO, "no", T0));
        assertEquals(Counted.NOT_A_VOTER, ballot.record(MaintenanceBallot.STORAGEBUS, VoteDecision.VETO, "spoofed", T0));
        assertInstanceOf(Start.class, ballot.decide(T0, Optional::empty));
    }

    @Test
    void storageBusVetoesWhileTasksOfTheDomainRunNamingThem() {
        List<TaskState> tasks = List.of(
                task("t1", "d1", TaskStatus.RUNNING), task("t2", "d1", TaskStatus.SUCCEEDED),
                task("t3", "d2", TaskStatus.PENDING));
        assertEquals(Optional.of("1 task(s) still run on the domain: CREATE_VOLUME t1"), MaintenanceBallot.selfVeto(tasks, "d1"));
        assertEquals(Optional.empty(), MaintenanceBallot.selfVeto(tasks, "d3"));
    }

    private static TaskState task(String id, String domainId, io.storagebus.schema.TaskStatus status) {
        return TaskState.newBuilder().setEnvelope(Envelopes.origin("default", "test", id)).setId(id)
                .setType("CREATE_VOLUME").setStatus(status).setDomainId(domainId).setCreatedAt(Instant.now()).build();
    }
}
