package io.storagebus.driver;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The drivers on the class path, by name, each {@link #wrap wrapped} to be checked and fenced. */
public final class DriverRegistry {
    private final Map<String, StorageDriver> drivers;

    private DriverRegistry(Map<String, StorageDriver> drivers) {
        this.drivers = drivers;
    }

    public static DriverRegistry load() {
        Map<String, StorageDriver> found = new TreeMap<>();
        for (StorageDriver driver : ServiceLoader.load(StorageDriver.class)) {
            found.put(driver.name(), wrap(driver));
        }
        return new DriverRegistry(Map.copyOf(found));
    }

    /** These drivers only, each {@link #wrap wrapped}: for a host that builds its drivers itself (and tests). */
    public static DriverRegistry of(StorageDriver... drivers) {
        Map<String, StorageDriver> given = new TreeMap<>();
        for (StorageDriver driver : drivers) {
            given.put(driver.name(), wrap(driver));
        }
        return new DriverRegistry(Map.copyOf(given));
    }

    /** A driver as callers use it: calls checked ({@link CheckedDriver}), then writes fenced ({@link FencedDriver}). */
    public static StorageDriver wrap(StorageDriver driver) {
        return driver instanceof CheckedDriver ? driver : new CheckedDriver(driver instanceof FencedDriver ? driver : new FencedDriver(driver));
    }

    public Optional<StorageDriver> find(String name) {
        return Optional.ofNullable(drivers.get(name));
    }

    public Collection<StorageDriver> all() {
        return new TreeMap<>(drivers).values();
    }
}
