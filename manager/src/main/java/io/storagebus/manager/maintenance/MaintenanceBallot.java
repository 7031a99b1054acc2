package io.storagebus.manager.maintenance;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

import io.storagebus.schema.CastVote;
import io.storagebus.schema.MaintenanceVoter;
import io.storagebus.schema.SilencePolicy;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import io.storagebus.schema.VoteDecision;

/**
 * The votes on one maintenance request and the rule that decides it: any veto aborts; when every
 * subscriber consented, or the deadline passed and silence counts under each one's policy,
 * StorageBus casts its own vote last (it vetoes while tasks run on the domain), and consent from
 * all starts maintenance. Pure logic: the caller says what time it is.
 */
public final class MaintenanceBallot {
    /** The voter id StorageBus votes under itself. */
    public static final String STORAGEBUS = "storagebus";

    /** How a vote was taken. */
    public enum Counted { COUNTED, DUPLICATE, NOT_A_VOTER }

    /** The outcome so far. */
    public sealed interface Outcome {
    }

    /** Not decided yet: {@code silent} votes are missing and the deadline is ahead. */
    public record Pending(int silent) implements Outcome {
    }

    public record Abort(List<CastVote> vetoes) implements Outcome {
    }

    public record Start(List<CastVote> consents) implements Outcome {
    }

    private final Map<String, MaintenanceVoter> voters = new LinkedHashMap<>();
    private final Map<String, CastVote> votes = new LinkedHashMap<>();
    /** Kept as votes come, so counting a vote costs the same with ten voters or ten thousand. */
    private final Set<String> silent = new LinkedHashSet<>();
    private boolean vetoed;
    private final Instant deadline;

    public MaintenanceBallot(List<MaintenanceVoter> voters, List<CastVote> votes, Instant deadline) {
        voters.forEach(v -> this.voters.put(v.getSubscriberId(), v));
        this.voters.keySet().stream().filter(id -> !STORAGEBUS.equals(id)).forEach(silent::add);
        votes.forEach(this::count);
        this.deadline = deadline;
    }

    /** StorageBus's own place among the voters: its silence is never counted, it votes when the rest is in. */
    public static MaintenanceVoter selfVoter() {
        return MaintenanceVoter.newBuilder().setSubscriberId(STORAGEBUS)
                .setDescription("StorageBus: vetoes while tasks run on the domain").setSilence(SilencePolicy.CONSENT).build();
    }

    /** StorageBus's own vote: a veto, naming them, while tasks of the domain have not finished. */
    public static Optional<String> selfVeto(Collection<TaskState> tasks, String domainId) {
        List<String> running = tasks.stream()
                .filter(t -> domainId.equals(t.getDomainId()) && (t.getStatus() == TaskStatus.PENDING || t.getStatus() == TaskStatus.RUNNING))
                .map(t -> t.getType() + " " + t.getId()).sorted().toList();
        if (running.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(running.size() + " task(s) still run on the domain: "
                + String.join(", ", running.subList(0, Math.min(10, running.size()))) + (running.size() > 10 ? ", ..." : ""));
    }

    /** The first vote of a voter counts; later ones, and votes of subscribers not asked, do not. */
    public Counted record(String subscriberId, VoteDecision decision, String reason, Instant at) {
        if (!voters.containsKey(subscriberId) || STORAGEBUS.equals(subscriberId)) {
            return Counted.NOT_A_VOTER;
        }
        if (votes.containsKey(subscriberId)) {
            return Counted.DUPLICATE;
        }
        count(cast(subscriberId, decision, reason, false, at));
        return Counted.COUNTED;
    }

    private void count(CastVote vote) {
        votes.put(vote.getSubscriberId(), vote);
        silent.remove(vote.getSubscriberId());
        vetoed |= vote.getDecision() == VoteDecision.VETO;
    }

    /**
     * Decides if it can. {@code selfVeto} is asked only when everyone else has consented (or is
     * counted as consenting), so StorageBus judges the domain at the last moment.
     */
    public Outcome decide(Instant now, Supplier<Optional<String>> selfVeto) {
        if (vetoed) {
            return new Abort(byDecision(VoteDecision.VETO));
        }
        if (!silent.isEmpty() && now.isBefore(deadline)) {
            return new Pending(silent.size());
        }
        for (String id : List.copyOf(silent)) {
            MaintenanceVoter voter = voters.get(id);
            VoteDecision counted = voter.getSilence() == SilencePolicy.CONSENT ? VoteDecision.CONSENT : VoteDecision.VETO;
            count(cast(id, counted, "silent at the deadline (" + voter.getSilence().name().toLowerCase() + " on silence)", true, now));
        }
        if (vetoed) {
            return new Abort(byDecision(VoteDecision.VETO));
        }
        if (voters.containsKey(STORAGEBUS) && !votes.containsKey(STORAGEBUS)) {
            Optional<String> veto = selfVeto.get();
            count(cast(STORAGEBUS, veto.isPresent() ? VoteDecision.VETO : VoteDecision.CONSENT, veto.orElse(null), false, now));
            if (vetoed) {
                return new Abort(byDecision(VoteDecision.VETO));
            }
        }
        return new Start(byDecision(VoteDecision.CONSENT));
    }

    /** The vote counted for the subscriber, if any. */
    public CastVote voteOf(String subscriberId) {
        return votes.get(subscriberId);
    }

    /** Subscribers asked whose vote is not in (StorageBus itself excepted). */
    public List<String> silentSubscribers() {
        return List.copyOf(silent);
    }

    public List<MaintenanceVoter> voters() {
        return List.copyOf(voters.values());
    }

    public List<CastVote> votes() {
        return List.copyOf(votes.values());
    }

    public Instant deadline() {
        return deadline;
    }

    private List<CastVote> byDecision(VoteDecision decision) {
        List<CastVote> list = new ArrayList<>();
        votes.values().stream().filter(v -> v.getDecision() == decision).forEach(list::add);
        return list;
    }

    private static CastVote cast(String id, VoteDecision decision, String reason, boolean silent, Instant at) {
        return CastVote.newBuilder().setSubscriberId(id).setDecision(decision).setReason(reason).setSilent(silent).setAt(at).build();
    }
}
