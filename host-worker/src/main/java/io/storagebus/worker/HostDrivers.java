package io.storagebus.worker;

import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.driver.StorageDriver;
import io.storagebus.schema.DomainRef;

/** A host's way to its drivers: the driver a command's domain names, and the domain as the driver sees it. */
public final class HostDrivers {
    private HostDrivers() {
    }

    /** The domain's driver, or UNSUPPORTED naming the host that lacks it. */
    public static StorageDriver driver(DriverRegistry drivers, String hostId, DomainRef domain) throws DriverException {
        return drivers.find(domain.getDriver()).orElseThrow(() -> new DriverException(DriverException.Code.UNSUPPORTED,
                "host " + hostId + " has no driver '" + domain.getDriver() + "'"));
    }

    /** Host-side operations change no pool metadata, so they run outside any SPM term (unfenced). */
    public static DomainContext context(DomainRef domain) {
        return new DomainContext(domain.getId(), domain.getProperties());
    }
}
