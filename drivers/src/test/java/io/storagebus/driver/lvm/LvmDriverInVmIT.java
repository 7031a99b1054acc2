package io.storagebus.driver.lvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import io.storagebus.testkit.S3MockServer;
import io.storagebus.testkit.vm.InVmTests;
import io.storagebus.testkit.vm.TestVm;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The lvm driver's test classes, conformance suite included, run inside a {@link TestVm} whose
 * kernel has device-mapper: LVs activated for real, qcow2 headers written on them, data written
 * and read back, wipes, refreshes, snapshot layers and merges with a real QEMU, backups to an
 * object store (an S3Mock on the host, reached over the VM's network). Each test in
 * the VM is one test here. CI sets {@code STORAGEBUS_TEST_VM=required}, so a missing kernel
 * fails rather than skips. The VM's console and results stay in {@code target/test-vm/lvm}.
 */
class LvmDriverInVmIT {
    /** Under target/, not a temporary directory: the VM's console and results stay for a failed run's post-mortem. */
    private static final Path RUN_DIR = Path.of("target", "test-vm", "lvm");

    @TestFactory
    Stream<DynamicTest> lvmDriverTestWithDeviceMapper() throws Exception {
        TestVm vm = TestVm.forTest();
        long started = System.nanoTime();
        List<InVmTests.Result> results;
        // The backups' object store runs on the host, as one would on another machine: S3Mock under TCG would take minutes to start.
        try (S3MockServer s3 = S3MockServer.start(RUN_DIR.resolve("s3").toAbsolutePath())) {
            String endpoint = "http://" + TestVm.HOST_ADDRESS + ":" + URI.create(s3.endpoint()).getPort();
            results = InVmTests.run(vm.withHostNetwork(), RUN_DIR, Map.of(LvmDriverTest.DEVICE_MAPPER_REQUIRED, "true",
                    LvmSnapshotTest.OBJECT_STORE, endpoint), Duration.ofMinutes(20), LvmDriverTest.class, LvmSnapshotTest.class, LvmShellTest.class);
        }
        System.out.printf("LvmDriverTest, LvmSnapshotTest and LvmShellTest in the test VM (kernel %s): %d tests in %.1f s%n", vm.kernelVersion(), results.size(),
                (System.nanoTime() - started) / 1e9);
        assertFalse(results.isEmpty(), "no test ran in the VM");
        assertEquals(List.of(), results.stream().filter(r -> r.detail().contains("device-mapper is missing")).map(InVmTests.Result::name).toList(),
                "tests the VM's device-mapper should have let run");
        return results.stream().map(r -> DynamicTest.dynamicTest(r.name(), () -> {
            switch (r.status()) {
                case PASSED -> { }
                case SKIPPED -> abort(r.detail());
                case FAILED -> fail("in the VM:\n" + r.detail());
            }
        }));
    }
}
