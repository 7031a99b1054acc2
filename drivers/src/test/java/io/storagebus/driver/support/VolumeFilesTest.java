package io.storagebus.driver.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import io.storagebus.driver.DriverException;
import io.storagebus.driver.Epoch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeFilesTest {
    @TempDir
    Path dir;

    @Test
    void allocatedBytesCountWhatIsWrittenNotTheLength() throws Exception {
        Path sparse = dir.resolve("sparse.raw");
        try (RandomAccessFile f = new RandomAccessFile(sparse.toFile(), "rw")) {
            f.setLength(64 << 20);
            f.seek(32 << 20);
            f.write(new byte[1 << 20]);
            f.getFD().sync();
        }
        long allocated = VolumeFiles.actualBytes(sparse);
        assertTrue(allocated >= 1 << 20 && allocated < 8 << 20, "allocated " + allocated);
        assertEquals(0, VolumeFiles.actualBytes(Files.createFile(dir.resolve("empty"))), "asked again: the same helper answers");
        DriverException missing = assertThrows(DriverException.class, () -> VolumeFiles.actualBytes(dir.resolve("missing")));
        assertTrue(missing.getMessage().contains("missing"), missing.getMessage());
    }

    @Test
    void aTermRemovesTheTemporariesOfOlderTermsOnlyAndOnce() throws Exception {
        VolumeFiles files = new VolumeFiles(dir);
        Path old = Files.createFile(files.temporary("v1", "creating", Epoch.of(3)));
        Path legacy = Files.createFile(dir.resolve("volumes").resolve(".v2.writing.0b6c1f3e-8a7d-4a3b-9c11-2f0e5d8b7a61"));
        Path current = Files.createFile(files.temporary("v3", "creating", Epoch.of(4)));
        Path export = Files.createFile(files.temporary("v4", "export"));

        files.removeOlderTermsTemporaries(Epoch.of(4));
        assertFalse(Files.exists(old), "a deposed term's create");
        assertFalse(Files.exists(legacy), "a temporary named before terms named them");
        assertTrue(Files.exists(current), "this term's own");
        assertTrue(Files.exists(export), "not a create's or a write's");

        Path late = Files.createFile(files.temporary("v5", "creating", Epoch.of(3)));
        files.removeOlderTermsTemporaries(Epoch.of(4));
        assertTrue(Files.exists(late), "the directory is listed once per term, not per create");
        files.removeOlderTermsTemporaries(Epoch.of(5));
        assertFalse(Files.exists(late), "the next term lists it again");
    }
}
