package io.storagebus.worker.watchdog;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The watchdog against real processes standing in for QEMU (a shell whose command line names a
 * QMP socket): an overdue renewal freezes the process, a renewal thaws it, a lease surely expired
 * kills it, a withdrawn renewal of a frozen guest kills it, and what it reads is checked like
 * input from a stranger.
 */
class LeaseWatchdogTest {
    @TempDir
    Path dir;
    private Process guest;
    private Path socket;
    private LeaseWatchdog watchdog;

    @BeforeEach
    void start() throws Exception {
        socket = dir.resolve("vm").resolve("qmp.sock");
        // "; true" keeps the shell from exec-ing sleep, so its command line keeps naming the socket.
        guest = new ProcessBuilder("sh", "-c", "sleep 120; true", socket.toString()).start();
        watchdog = new LeaseWatchdog(dir, Duration.ofSeconds(2)).start();
    }

    @AfterEach
    void stop() {
        watchdog.close();
        guest.destroyForcibly();
    }

    @Test
    void anOverdueGuestIsFrozenThawedWhenRenewedAndKilledOnceItsLeaseHasSurelyExpired() throws Exception {
        renew(System.currentTimeMillis() + 60_000);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> !state().equals("T"));
        renew(System.currentTimeMillis() - 1);
        await().atMost(Duration.ofSeconds(5)).until(this::state, "T"::equals);
        renew(System.currentTimeMillis() + 60_000);
        await().atMost(Duration.ofSeconds(5)).until(() -> !state().equals("T"));
        long deadline = System.currentTimeMillis() + 200;
        renew(deadline);
        assertTrue(guest.waitFor(10, java.util.concurrent.TimeUnit.SECONDS), "killed after the deadline and the session timeout");
        assertTrue(System.currentTimeMillis() >= deadline + 2000, "not before the lease had surely expired");
    }

    @Test
    void aFrozenGuestWhoseRenewalIsWithdrawnIsKilled() throws Exception {
        renew(System.currentTimeMillis() - 1);
        await().atMost(Duration.ofSeconds(5)).until(this::state, "T"::equals);
        Files.delete(dir.resolve("vol-1.lease"));
        assertTrue(guest.waitFor(5, java.util.concurrent.TimeUnit.SECONDS));
    }

    @Test
    void aRenewalNamingAnotherSocketNeverSignalsTheProcess() throws Exception {
        // The pid was reused by a process that is not this guest's QEMU.
        new LeaseRenewal("vol-1", 1, guest.pid(), dir.resolve("other.sock").toString(), System.currentTimeMillis() - 1).writeTo(dir);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() -> !state().equals("T"));
        assertTrue(guest.isAlive());
    }

    @Test
    void malformedRenewalsAreRefusedWithTheReasonAndTheWatchdogGoesOn() throws Exception {
        assertEquals("no 'deadline'", assertThrows(IllegalArgumentException.class,
                () -> LeaseRenewal.parse("volume=v\nepoch=1\npid=5\nqmp=/s\n")).getMessage());
        assertEquals("'pid' is not a number: 'x'", assertThrows(IllegalArgumentException.class,
                () -> LeaseRenewal.parse("volume=v\nepoch=1\npid=x\nqmp=/s\ndeadline=1\n")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> LeaseRenewal.parse("volume=../../etc\nepoch=1\npid=5\nqmp=/s\ndeadline=1\n"));
        assertThrows(IllegalArgumentException.class, () -> LeaseRenewal.parse("garbage"));
        Files.writeString(dir.resolve("bad.lease"), "\u0000\u0001 not a renewal");
        renew(System.currentTimeMillis() - 1);
        await().atMost(Duration.ofSeconds(5)).until(this::state, "T"::equals);
        assertTrue(Files.exists(dir.resolve(LeaseWatchdog.ALIVE_FILE)));
    }

    private void renew(long deadline) throws Exception {
        new LeaseRenewal("vol-1", 1, guest.pid(), socket.toString(), deadline).writeTo(dir);
    }

    private String state() throws Exception {
        String stat = Files.readString(Path.of("/proc", Long.toString(guest.pid()), "stat"));
        return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }
}
