package io.storagebus.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A guest that writes: a PC whose only software is the boot sector in {@code guest/writer.asm},
 * built with {@code nasm}. It writes a number of bytes of 0xA5 through a virtio-blk disk holding
 * a qcow2 image on a block device, which pauses on ENOSPC ({@code werror=stop}), then powers off;
 * a write that fails for good makes QEMU exit at once. No kernel to boot, so it runs in seconds
 * under TCG, even nested in the test VM.
 *
 * <p>Its disk: protocol node {@code vol-file} (the device), format node {@code vol}.
 */
public final class WriterGuest {
    private WriterGuest() {
    }

    /** Whether {@code nasm} is here to build the boot sector. */
    public static boolean available() {
        return Binaries.run("nasm", "-v");
    }

    /**
     * QEMU's arguments for the guest writing {@code bytes} to the qcow2 image on {@code device}.
     * Built {@code forever}, it never powers off: pass after pass it writes the first
     * {@code bytes} again, every byte of a pass the pass's number.
     */
    public static List<String> args(Path dir, String device, long bytes, boolean forever) throws IOException, InterruptedException {
        Path asm = Files.createDirectories(dir).resolve("writer.asm");
        try (InputStream in = WriterGuest.class.getResourceAsStream("/guest/writer.asm")) {
            Files.write(asm, in.readAllBytes());
        }
        Path bin = dir.resolve("writer.bin");
        List<String> nasm = new ArrayList<>(List.of("nasm", "-f", "bin", "-DSECTORS=" + (bytes / 512), "-o", bin.toString(), asm.toString()));
        if (forever) {
            nasm.add(3, "-DFOREVER");
        }
        Process p = new ProcessBuilder(nasm).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", nasm) + ": " + out);
        }
        Path boot = dir.resolve("boot.img");
        byte[] sector = Files.readAllBytes(bin);
        byte[] image = new byte[1 << 20];
        System.arraycopy(sector, 0, image, 0, sector.length);
        Files.write(boot, image);
        return List.of("-machine", "pc", "-m", "32", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-blockdev", "driver=file,filename=" + boot + ",node-name=boot-file",
                "-blockdev", "driver=raw,file=boot-file,node-name=boot",
                "-device", "ide-hd,drive=boot,bus=ide.0,unit=0,bootindex=0",
                "-blockdev", "driver=host_device,filename=" + device + ",node-name=vol-file",
                "-blockdev", "driver=qcow2,file=vol-file,node-name=vol",
                "-device", "virtio-blk-pci,drive=vol,werror=stop,rerror=stop");
    }
}
