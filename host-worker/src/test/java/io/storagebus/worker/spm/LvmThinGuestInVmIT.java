package io.storagebus.worker.spm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import io.storagebus.testkit.vm.InVmTests;
import io.storagebus.testkit.vm.TestVm;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * {@link LvmThinGuestTest} inside a {@link TestVm} whose kernel has device-mapper: a real guest,
 * nested under the VM's TCG, writes past its allocation on an activated LV. CI sets
 * {@code STORAGEBUS_TEST_VM=required}, so a missing kernel fails rather than skips. The VM's
 * console and results stay in {@code target/test-vm/thin-guest}.
 */
class LvmThinGuestInVmIT {
    /** Under target/, not a temporary directory: the VM's console and results stay for a failed run's post-mortem. */
    private static final Path RUN_DIR = Path.of("target", "test-vm", "thin-guest");

    @TestFactory
    Stream<DynamicTest> aThinGuestOnAnLvWithDeviceMapper() throws Exception {
        TestVm vm = TestVm.forTest();
        long started = System.nanoTime();
        List<InVmTests.Result> results = InVmTests.run(vm, RUN_DIR, Map.of(LvmThinGuestTest.DEVICE_MAPPER_REQUIRED, "true"),
                Duration.ofMinutes(15), LvmThinGuestTest.class);
        System.out.printf("LvmThinGuestTest in the test VM (kernel %s): %d tests in %.1f s%n", vm.kernelVersion(), results.size(),
                (System.nanoTime() - started) / 1e9);
        assertFalse(results.isEmpty(), "no test ran in the VM");
        assertEquals(List.of(), results.stream().filter(r -> r.status() == InVmTests.Status.SKIPPED).map(InVmTests.Result::detail).toList(),
                "nothing may be skipped in the VM: it has device-mapper, QEMU and nasm");
        return results.stream().map(r -> DynamicTest.dynamicTest(r.name(), () -> {
            if (r.status() == InVmTests.Status.FAILED) {
                fail("in the VM:\n" + r.detail());
            }
        }));
    }
}
