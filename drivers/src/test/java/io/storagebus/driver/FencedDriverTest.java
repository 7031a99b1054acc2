package io.storagebus.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

/** Every operation on a domain is either fenced or known to only read or use the storage: none is forgotten. */
class FencedDriverTest {
    /** The operations that change nothing a newer SPM term could own: reads, and a host's use of a volume. */
    private static final Set<String> NOT_FENCED = Set.of("info", "read", "copyTo", "list", "listDelinked", "export", "parentOf",
            "snapshots", "manifest", "manifests", "freeSpace", "totalSpace", "refresh", "activate", "deactivate", "admitLease");

    @Test
    void everyOperationOnADomainIsClassified() {
        Set<String> operations = Arrays.stream(StorageDriver.class.getMethods())
                .filter(m -> m.getParameterCount() > 0 && m.getParameterTypes()[0] == DomainContext.class)
                .map(Method::getName).collect(Collectors.toCollection(TreeSet::new));
        Set<String> classified = new TreeSet<>(FencedDriver.MUTATING);
        classified.addAll(NOT_FENCED);
        assertEquals(operations, classified, "a StorageDriver operation is neither in FencedDriver.MUTATING nor known to be a read");
        Set<String> both = new HashSet<>(FencedDriver.MUTATING);
        both.retainAll(NOT_FENCED);
        assertTrue(both.isEmpty(), "fenced and not: " + both);
    }

    @Test
    void everyOperationIsPassedOnByTheDecorators() throws Exception {
        for (Method m : StorageDriver.class.getMethods()) {
            try {
                ForwardingDriver.class.getDeclaredMethod(m.getName(), m.getParameterTypes());
            } catch (NoSuchMethodException e) {
                throw new AssertionError("ForwardingDriver does not override " + m.getName() + ": a driver's own version would be skipped", e);
            }
        }
        for (String name : FencedDriver.MUTATING) {
            assertTrue(Arrays.stream(FencedDriver.class.getDeclaredMethods()).anyMatch(m -> m.getName().equals(name)),
                    "FencedDriver does not fence " + name);
        }
    }

    @Test
    void epochsCompareAndUnfencedIsNone() {
        assertTrue(Epoch.of(4).isOlderThan(Epoch.of(5)));
        assertTrue(!Epoch.UNFENCED.isFenced());
        assertEquals(Epoch.UNFENCED, Epoch.of(0));
        assertEquals("epoch 3", Epoch.of(3).toString());
    }
}
