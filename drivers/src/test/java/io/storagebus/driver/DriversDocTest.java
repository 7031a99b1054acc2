package io.storagebus.driver;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/** docs/DRIVERS.md is where operators look up a domain's properties: its table must name every property each driver takes. */
class DriversDocTest {

    @Test
    void theDriverTableNamesEveryPropertyAndCapability() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "DRIVERS.md"));
        for (StorageDriver driver : DriverRegistry.load().all()) {
            String row = doc.lines().filter(l -> l.startsWith("| `" + driver.name() + "` |")).findFirst().orElse(null);
            assertTrue(row != null, "docs/DRIVERS.md has no row for driver " + driver.name());
            for (PropertyDescriptor p : driver.properties()) {
                assertTrue(row.contains("`" + p.name() + "`"), "docs/DRIVERS.md's row of " + driver.name() + " lacks property " + p.name());
            }
            for (Capability c : driver.capabilities()) {
                assertTrue(row.contains(c.name()), "docs/DRIVERS.md's row of " + driver.name() + " lacks capability " + c.name());
            }
        }
    }
}
