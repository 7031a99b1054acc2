package io.storagebus.manager.requests;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.manager.requests.RequestException.Conflict;
import io.storagebus.manager.requests.RequestException.Invalid;
import io.storagebus.manager.state.StateView;
import io.storagebus.schema.DomainState;

/**
 * One domain per piece of storage. A domain being created claims its storage here, checked and
 * claimed in one step, and keeps the claim until it is in the state view (or refused), so two
 * requests for one directory cannot both pass a check made before either is stored. Directories
 * conflict when one is inside the other, whatever their drivers; a directory in, on or above a
 * reserved one (the dev stack's Kafka and ZooKeeper) is refused.
 */
final class DomainStorage {
    private static final String DIRECTORY = "dir:";

    private final StateView view;
    private final DriverRegistry drivers;
    private final List<Path> reserved;
    /** Storage id -> name of the domain being created on it. */
    private final Map<String, String> claims = new HashMap<>();

    DomainStorage(StateView view, DriverRegistry drivers, List<Path> reserved) {
        this.view = view;
        this.drivers = drivers;
        this.reserved = reserved.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    }

    /** Claims {@code storage} for a new domain, or throws the conflict. Touches the storage of every domain: off the event loop. */
    void claim(String storage, String domainName) {
        for (Path dir : reserved) {
            if (overlaps(storage, DIRECTORY + dir)) {
                throw new Invalid("properties", "RESERVED_STORAGE", storage.substring(DIRECTORY.length()) + " is in, on or above "
                        + dir + ", which StorageBus itself uses; choose a directory of its own");
            }
        }
        synchronized (claims) {
            for (DomainState other : view.domains()) {
                Optional<StorageDriver> driver = drivers.find(other.getDriver());
                // As the host that checked it resolved it; domains stored before hosts checked storage have none.
                String theirs = other.getStorageId() != null ? other.getStorageId()
                        : driver.map(d -> d.storageId(other.getProperties())).orElse(null);
                if (theirs != null && overlaps(storage, theirs)) {
                    throw conflict(storage, "domain '" + other.getName() + "'");
                }
            }
            for (Map.Entry<String, String> claim : claims.entrySet()) {
                if (overlaps(storage, claim.getKey())) {
                    throw conflict(storage, "domain '" + claim.getValue() + "', being created now,");
                }
            }
            claims.put(storage, domainName);
        }
    }

    /** The domain is stored (the view has it) or was refused: its claim is no longer needed. */
    void release(String storage) {
        synchronized (claims) {
            claims.remove(storage);
        }
    }

    private static Conflict conflict(String storage, String other) {
        return new Conflict("STORAGE_IN_USE", other + " already uses this storage or one in or above it ("
                + storage + "); attach it once, or use importVolumes on a domain that is gone", "properties");
    }

    static boolean overlaps(String a, String b) {
        if (a.equals(b)) {
            return true;
        }
        if (a.startsWith(DIRECTORY) && b.startsWith(DIRECTORY)) {
            Path pa = Path.of(a.substring(DIRECTORY.length()));
            Path pb = Path.of(b.substring(DIRECTORY.length()));
            return pa.startsWith(pb) || pb.startsWith(pa);
        }
        return false;
    }
}
