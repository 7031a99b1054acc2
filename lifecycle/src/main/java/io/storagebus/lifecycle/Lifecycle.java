package io.storagebus.lifecycle;

import java.util.concurrent.atomic.AtomicReference;

/**
 * The lifecycle of a service object, as Curator's recipes have it: {@code LATENT}, then
 * {@code STARTED} once, then {@code CLOSED} for good, each move made by compare-and-set so that
 * two threads cannot both start or both close it.
 */
public final class Lifecycle {
    public enum State { LATENT, STARTED, CLOSED }

    private final String name;
    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);

    /** @param name what this is the lifecycle of, for the error a second start gets */
    public Lifecycle(String name) {
        this.name = name;
    }

    /** Moves from LATENT to STARTED, or throws: a thing starts once, and never after it closed. */
    public void start() {
        if (!state.compareAndSet(State.LATENT, State.STARTED)) {
            throw new IllegalStateException(name + " cannot start: it is " + state.get());
        }
    }

    /**
     * Closes it for good, whatever it was; true only for the call that closed it while it was
     * STARTED, which is the one that must stop what start() began.
     */
    public boolean close() {
        return state.getAndSet(State.CLOSED) == State.STARTED;
    }

    public boolean isStarted() {
        return state.get() == State.STARTED;
    }

    public boolean isClosed() {
        return state.get() == State.CLOSED;
    }

    public State state() {
        return state.get();
    }

    @Override
    public String toString() {
        return name + " " + state.get();
    }
}
