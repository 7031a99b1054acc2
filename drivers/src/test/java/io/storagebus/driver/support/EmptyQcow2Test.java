package io.storagebus.driver.support;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.storagebus.driver.VolumeFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The in-process image against what the real {@code qemu-img create} makes, checked and written by the real qemu tools. */
class EmptyQcow2Test {
    /** Where qemu-img's header extensions (its feature-name table) start; ours end there. */
    private static final int EXTENSIONS = 0x70;

    @ParameterizedTest
    @ValueSource(longs = {512, 1 << 20, 1L << 30, (1L << 30) + 512, 1L << 40, 5L << 40, 255L << 40})
    void theImageIsQemuImgsWithoutTheFeatureNames(long virtualSize, @TempDir Path dir) throws Exception {
        Path ours = dir.resolve("ours.qcow2");
        Path theirs = dir.resolve("theirs.qcow2");
        EmptyQcow2.write(ours, virtualSize);
        Processes.run(List.of("qemu-img", "create", "-q", "-f", "qcow2", theirs.toString(), Long.toString(virtualSize)));

        byte[] a = Files.readAllBytes(ours);
        byte[] b = Files.readAllBytes(theirs);
        assertEquals(b.length, a.length, "the file ends where the L1 table does");
        assertArrayEquals(Arrays.copyOf(b, EXTENSIONS), Arrays.copyOf(a, EXTENSIONS), "the header");
        assertArrayEquals(Arrays.copyOfRange(b, 0x10000, b.length), Arrays.copyOfRange(a, 0x10000, a.length),
                "the refcount table, its block and the L1 table");
        assertTrue(Arrays.equals(a, EXTENSIONS, 0x10000, new byte[0x10000 - EXTENSIONS], 0, 0x10000 - EXTENSIONS),
                "after the header, only the end of its extensions (zeros)");

        Processes.run(List.of("qemu-img", "check", "-q", "-f", "qcow2", ours.toString()));
        JsonNode info = new ObjectMapper().readTree(Processes.run(List.of("qemu-img", "info", "--output=json", ours.toString())));
        assertEquals(virtualSize, info.path("virtual-size").asLong());
        assertEquals(65536, info.path("cluster-size").asInt());
        assertEquals("1.1", info.path("format-specific").path("data").path("compat").asText());
    }

    @Test
    void qemuWritesAndReadsItAndItStaysConsistent(@TempDir Path dir) throws Exception {
        Path image = dir.resolve("disk.qcow2");
        QemuImg.create(image, VolumeFormat.QCOW2, 3L << 30, false);
        Processes.run(List.of("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 128k", "-c", "write -P 0xcd 2G 64k", image.toString()));
        Processes.run(List.of("qemu-img", "check", "-q", "-f", "qcow2", image.toString()));
        String read = Processes.run(List.of("qemu-io", "-f", "qcow2", "-c", "read -P 0xab 0 128k", "-c", "read -P 0xcd 2G 64k",
                "-c", "read -P 0 1G 64k", image.toString()));
        assertFalse(read.contains("Pattern verification failed"), read);
        assertEquals(3L << 30, QemuImg.virtualSize(image, VolumeFormat.QCOW2));
    }

    @Test
    void whatItDoesNotMakeIsLeftToQemuImg(@TempDir Path dir) throws Exception {
        assertFalse(EmptyQcow2.canWrite(1000), "not whole sectors: qemu-img rounds up");
        assertFalse(EmptyQcow2.canWrite(0));
        assertFalse(EmptyQcow2.canWrite(257L << 40), "an L1 table of more than 64 clusters");
        assertFalse(EmptyQcow2.canWrite(Long.MAX_VALUE - 511), "a size whose rounding would overflow");
        Path odd = dir.resolve("odd.qcow2");
        QemuImg.create(odd, VolumeFormat.QCOW2, 1000, false);
        assertEquals(1024, QemuImg.virtualSize(odd, VolumeFormat.QCOW2));
    }
}
