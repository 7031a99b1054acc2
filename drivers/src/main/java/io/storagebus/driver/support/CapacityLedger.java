package io.storagebus.driver.support;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.Epoch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bytes the volumes of each capacity-limited domain take, kept as they grow so that a domain's
 * free space is known in O(1) instead of by listing and sizing every volume (which made each
 * extend of a boot storm cost O(volumes in the domain)).
 *
 * <p>An account is built by a scan of the storage the first time a domain is asked about under
 * an SPM term's epoch, so every new term starts from what the storage says, not from what an
 * earlier term (perhaps on another host) believed. Creates and extends add what they allocate;
 * any other change of the layers (delete, snapshot, merge, restore) drops the account, and the
 * next question rescans. Every {@link #recheck} an account is compared with a fresh scan; a
 * difference (a file changed behind the driver's back) is corrected and logged.
 *
 * <p>Callers hold the domain's lock (its fence) around a question and the change that follows
 * it, so a check of the free space and the allocation it admits are one act.
 */
public final class CapacityLedger {
    private static final Logger LOG = LoggerFactory.getLogger(CapacityLedger.class);
    public static final Duration DEFAULT_RECHECK = Duration.ofMinutes(5);

    /** How the storage says what a domain's volumes take: a scan, O(volumes). */
    @FunctionalInterface
    public interface Scan {
        long usedBytes() throws DriverException;
    }

    private static final class Account {
        final Epoch epoch;
        long used;
        long checkedAt;

        Account(Epoch epoch, long used, long checkedAt) {
            this.epoch = epoch;
            this.used = used;
            this.checkedAt = checkedAt;
        }
    }

    private final ConcurrentHashMap<Path, Account> accounts = new ConcurrentHashMap<>();
    private final Duration recheck;
    private final LongSupplier nanoClock;

    public CapacityLedger() {
        this(DEFAULT_RECHECK, System::nanoTime);
    }

    public CapacityLedger(Duration recheck, LongSupplier nanoClock) {
        this.recheck = recheck;
        this.nanoClock = nanoClock;
    }

    /** Bytes the domain at {@code dir} takes, from its account, built or checked by {@code scan} when due. */
    public long used(Path dir, Epoch epoch, Scan scan) throws DriverException {
        Path key = dir.toAbsolutePath().normalize();
        Account account = accounts.get(key);
        if (!epoch.isFenced()) {
            // A question outside any term (an alert's figure, a host's check) changes no account.
            if (account == null) {
                return scan.usedBytes();
            }
            synchronized (account) {
                return account.used;
            }
        }
        long now = nanoClock.getAsLong();
        if (account == null || !account.epoch.equals(epoch)) {
            // Built inside compute, so an allocation recorded meanwhile (allocated() waits for it) is added to
            // this account rather than to one it replaces: at worst counted twice until the next check, never lost.
            try {
                account = accounts.compute(key, (k, a) -> a != null && a.epoch.equals(epoch) ? a : new Account(epoch, scanned(k, scan), now));
            } catch (ScanFailed e) {
                throw e.cause;
            }
        }
        synchronized (account) {
            if (now - account.checkedAt >= recheck.toNanos()) {
                long scanned = scan.usedBytes();
                if (scanned != account.used) {
                    LOG.warn("capacity ledger of {} said {} bytes used, the storage says {}: corrected", key, account.used, scanned);
                    account.used = scanned;
                }
                account.checkedAt = now;
            }
            return account.used;
        }
    }

    /** A create or an extend under the domain's lock allocated {@code bytes} more. */
    public void allocated(Path dir, long bytes) {
        accounts.computeIfPresent(dir.toAbsolutePath().normalize(), (k, account) -> {
            synchronized (account) {
                account.used += bytes;
            }
            return account;
        });
    }

    private static long scanned(Path dir, Scan scan) {
        long started = System.nanoTime();
        try {
            long used = scan.usedBytes();
            LOG.info("capacity ledger of {}: account built from the storage, {} bytes used ({} ms)", dir, used,
                    (System.nanoTime() - started) / 1_000_000);
            return used;
        } catch (DriverException e) {
            throw new ScanFailed(e);
        }
    }

    /** Carries a scan's failure out of {@code compute}. */
    private static final class ScanFailed extends RuntimeException {
        final DriverException cause;

        ScanFailed(DriverException cause) {
            super(cause);
            this.cause = cause;
        }
    }

    /** The layers changed otherwise (deleted, snapshotted, merged, restored): the next question rescans. */
    public void forget(Path dir) {
        accounts.remove(dir.toAbsolutePath().normalize());
    }
}
