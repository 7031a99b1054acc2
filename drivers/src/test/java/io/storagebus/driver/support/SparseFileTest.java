package io.storagebus.driver.support;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against a real sparse file and the real {@code qemu-img map}. */
class SparseFileTest {
    private static final int MIB = 1 << 20;

    @Test
    void aSparseFileReadsAsItsBytesAndItsHolesAreKnown(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("sparse.raw");
        byte[] data = new byte[MIB];
        new Random(3).nextBytes(data);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(16L * MIB);
            raf.seek(2L * MIB);
            raf.write(data);
            raf.seek(9L * MIB + 4096);
            raf.write(data, 0, 8192);
        }
        List<long[]> extents = SparseFile.dataExtents(file);
        assertTrue(extents.size() >= 2, "two runs of data");
        assertTrue(extents.stream().mapToLong(e -> e[1] - e[0]).sum() < 4L * MIB, "the holes are not data");

        byte[] expected = Files.readAllBytes(file);
        byte[] read = new byte[expected.length + 100];
        int total = 0;
        try (InputStream in = SparseFile.open(file, expected.length)) {
            // Odd-sized reads cross the edges of extents.
            for (int n; (n = in.read(read, total, Math.min(777_777, read.length - total))) > 0; ) {
                total += n;
            }
            assertEquals(-1, in.read());
        }
        assertEquals(expected.length, total);
        assertArrayEquals(expected, java.util.Arrays.copyOf(read, total));
    }

    @Test
    void pastItsEndAFileReadsAsZerosUpToTheLengthAsked(@TempDir Path dir) throws Exception {
        Path file = Files.write(dir.resolve("short.raw"), new byte[] {1, 2, 3});
        try (InputStream in = SparseFile.open(file, 4096)) {
            byte[] all = in.readAllBytes();
            assertEquals(4096, all.length);
            assertEquals(3, all[2]);
            assertEquals(0, all[4095]);
        }
    }
}
