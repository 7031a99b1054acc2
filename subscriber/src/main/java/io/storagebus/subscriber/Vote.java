package io.storagebus.subscriber;

import java.util.Objects;

import io.storagebus.schema.VoteDecision;

/** A subscriber's answer to a maintenance request: consent, or a veto and why. */
public record Vote(VoteDecision decision, String reason) {
    public Vote {
        Objects.requireNonNull(decision, "decision");
        if (decision == VoteDecision.VETO && (reason == null || reason.isBlank())) {
            throw new IllegalArgumentException("a veto needs a reason: the operator sees it");
        }
    }

    public static Vote consent() {
        return new Vote(VoteDecision.CONSENT, null);
    }

    public static Vote veto(String reason) {
        return new Vote(VoteDecision.VETO, reason);
    }
}
