package io.storagebus.driver.support;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
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
 * difference (a file changed behind the driver's back) is corrected and logged. That scan runs
 * off the caller's thread and outside the account's lock: done inline, it held every extend of
 * the domain for as long as it took to size every volume (0.4-1.1 s at 10,000 volumes), every
 * 5 minutes.
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
        /** Bytes allocated since the running recheck's scan began; -1 while none runs. */
        long allocatedDuringCheck = -1;

        Account(Epoch epoch, long used, long checkedAt) {
            this.epoch = epoch;
            this.used = used;
            this.checkedAt = checkedAt;
        }
    }

    /** One thread for every ledger's rechecks: a domain is rechecked every few minutes. */
    private static final Executor RECHECKS = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "capacity-ledger-recheck");
        t.setDaemon(true);
        return t;
    });

    private final ConcurrentHashMap<Path, Account> accounts = new ConcurrentHashMap<>();
    private final Duration recheck;
    private final LongSupplier nanoClock;
    private final Executor rechecks;

    public CapacityLedger() {
        this(DEFAULT_RECHECK, System::nanoTime, RECHECKS);
    }

    /** @param rechecks where the periodic scans run */
    public CapacityLedger(Duration recheck, LongSupplier nanoClock, Executor rechecks) {
        this.recheck = recheck;
        this.nanoClock = nanoClock;
        this.rechecks = rechecks;
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
        long base;
        synchronized (account) {
            if (now - account.checkedAt < recheck.toNanos() || account.allocatedDuringCheck >= 0) {
                return account.used;
            }
            base = account.used;
            account.allocatedDuringCheck = 0;
            account.checkedAt = now;
        }
        Account checked = account;
        rechecks.execute(() -> recheck(key, checked, base, scan));
        return base;
    }

    /**
     * Compares {@code account} with a scan begun when it said {@code base}. Allocations made
     * during the scan may or may not be in what it found, so the storage held between the scan's
     * figure and that plus those allocations: an account in that range is right; one outside it
     * is set to the top of the range (never less than the storage holds) and logged.
     */
    private void recheck(Path key, Account account, long base, Scan scan) {
        long scanned;
        try {
            scanned = scan.usedBytes();
        } catch (DriverException | RuntimeException e) {
            LOG.warn("capacity ledger of {}: the periodic check could not scan the storage ({}); tried again after {}", key,
                    e.getMessage(), recheck);
            synchronized (account) {
                account.allocatedDuringCheck = -1;
            }
            return;
        }
        synchronized (account) {
            long during = account.allocatedDuringCheck;
            account.allocatedDuringCheck = -1;
            if (accounts.get(key) != account) {
                return; // forgotten or replaced by a new term's meanwhile: that one starts from its own scan
            }
            if (base < scanned - during || base > scanned) {
                LOG.warn("capacity ledger of {} said {} bytes used, the storage says {} ({} allocated during the check): corrected",
                        key, base + during, scanned, during);
                account.used = scanned + during;
            }
        }
    }

    /** A create or an extend under the domain's lock allocated {@code bytes} more. */
    public void allocated(Path dir, long bytes) {
        accounts.computeIfPresent(dir.toAbsolutePath().normalize(), (k, account) -> {
            synchronized (account) {
                account.used += bytes;
                if (account.allocatedDuringCheck >= 0) {
                    account.allocatedDuringCheck += bytes;
                }
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
