package io.storagebus.leases;

/** The volume's lease belongs to another host. */
public final class LeaseHeldException extends Exception {
    private final VolumeLease holder;

    public LeaseHeldException(VolumeLease holder) {
        super("volume " + holder.volumeId() + " is in use on host " + holder.hostId() + " (lease epoch " + holder.epoch()
                + ", since " + holder.since() + ")");
        this.holder = holder;
    }

    public VolumeLease holder() {
        return holder;
    }
}
