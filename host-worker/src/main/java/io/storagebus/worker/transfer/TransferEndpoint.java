package io.storagebus.worker.transfer;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a worker serves image transfers: the address it listens on, the host name its clients
 * reach it by (in the URLs it gives out), and the directory it stages images in (as large as
 * the largest image in flight; its own, emptied at start).
 */
public record TransferEndpoint(String bindHost, int port, String advertisedHost, Path stagingDirectory) {
    /** imageio's port, which firewalls of virtualization hosts often open already. */
    public static final int DEFAULT_PORT = 54322;

    public TransferEndpoint {
        Objects.requireNonNull(bindHost, "bindHost");
        Objects.requireNonNull(advertisedHost, "advertisedHost");
        Objects.requireNonNull(stagingDirectory, "stagingDirectory");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("transfer port must be 0..65535, not " + port);
        }
    }

    /**
     * Loopback only, any free port, staging in a directory of this process and host under the
     * temporary directory (never another process's, which a start empties): tests and benchmarks.
     */
    public static TransferEndpoint loopback(String hostId) {
        return new TransferEndpoint("127.0.0.1", 0, "127.0.0.1", Path.of(System.getProperty("java.io.tmpdir"),
                "storagebus-transfers-" + ProcessHandle.current().pid() + "-" + hostId));
    }
}
