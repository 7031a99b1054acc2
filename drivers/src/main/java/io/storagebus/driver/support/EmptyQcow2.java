package io.storagebus.driver.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An empty qcow2 image written in-process, laid out as {@code qemu-img create -f qcow2} lays it
 * out (version 3, 64 KiB clusters, 16-bit refcounts, zlib compression type): the header, the
 * refcount table in cluster 1, its one refcount block in cluster 2 and the L1 table from cluster
 * 3, the file ending where the L1 table does. Only the header's feature-name table, an optional
 * extension for error messages, is left out. Forking {@code qemu-img} was ~20 ms of a thin qcow2
 * create's ~21; this is a few writes. Anything else (preallocation, a backing file, a size that
 * is not whole sectors, a block device) is still made by {@code qemu-img}.
 */
final class EmptyQcow2 {
    private static final int CLUSTER_BITS = 16;
    private static final int CLUSTER = 1 << CLUSTER_BITS;
    /** Guest bytes one L1 entry maps: an L2 table of a cluster's 8-byte entries, each a cluster. */
    private static final long L1_ENTRY_COVERS = (long) CLUSTER * (CLUSTER / 8);
    /** Images whose L1 table needs more clusters (over 256 TiB) are left to qemu-img. */
    private static final long MAX_L1_CLUSTERS = 64;
    private static final int HEADER_LENGTH = 112;
    private static final int SECTOR = 512;

    private EmptyQcow2() {
    }

    /** Whether {@link #write} makes this image: whole 512-byte sectors, up to 256 TiB. */
    static boolean canWrite(long virtualSize) {
        return virtualSize > 0 && virtualSize % SECTOR == 0 && l1Clusters(l1Entries(virtualSize)) <= MAX_L1_CLUSTERS;
    }

    /** Writes the image over whatever {@code file} held. */
    static void write(Path file, long virtualSize) throws IOException {
        if (!canWrite(virtualSize)) {
            throw new IllegalArgumentException("not an image written in-process: " + virtualSize + " bytes");
        }
        long l1Entries = l1Entries(virtualSize);
        long l1Clusters = l1Clusters(l1Entries);
        ByteBuffer header = ByteBuffer.allocate(HEADER_LENGTH + 8)
                .putInt(0x514649fb)              // magic "QFI\xfb"
                .putInt(3)                        // version
                .putLong(0).putInt(0)             // no backing file
                .putInt(CLUSTER_BITS)
                .putLong(virtualSize)
                .putInt(0)                        // no encryption
                .putInt((int) l1Entries)
                .putLong(3L * CLUSTER)            // L1 table
                .putLong(CLUSTER).putInt(1)       // refcount table, one cluster
                .putInt(0).putLong(0)             // no snapshots
                .putLong(0).putLong(0).putLong(0) // incompatible, compatible, autoclear features: none
                .putInt(4)                        // refcount order: 16-bit refcounts
                .putInt(HEADER_LENGTH)
                .put((byte) 0)                    // compression type zlib, then padding to 112
                .position(HEADER_LENGTH)
                .putInt(0).putInt(0)              // end of the header extensions
                .flip();
        ByteBuffer refcountTable = ByteBuffer.allocate(8).putLong(2L * CLUSTER).flip();
        // The header, the refcount table, the refcount block and the L1 table's clusters are in use once each.
        ByteBuffer refcountBlock = ByteBuffer.allocate((int) (3 + l1Clusters) * 2);
        while (refcountBlock.hasRemaining()) {
            refcountBlock.putShort((short) 1);
        }
        refcountBlock.flip();
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(out, header, 0);
            writeFully(out, refcountTable, CLUSTER);
            writeFully(out, refcountBlock, 2L * CLUSTER);
            // An all-zero L1 table: no cluster of the guest is allocated. The file's end is the table's, sparse.
            writeFully(out, ByteBuffer.allocate(1), 3L * CLUSTER + l1Entries * 8 - 1);
        }
    }

    /** Rounded up without overflow: a size near Long.MAX_VALUE must come out too large, not negative. */
    private static long l1Entries(long virtualSize) {
        return virtualSize / L1_ENTRY_COVERS + (virtualSize % L1_ENTRY_COVERS == 0 ? 0 : 1);
    }

    private static long l1Clusters(long l1Entries) {
        return (l1Entries * 8 + CLUSTER - 1) / CLUSTER;
    }

    private static void writeFully(FileChannel out, ByteBuffer bytes, long position) throws IOException {
        long at = position;
        while (bytes.hasRemaining()) {
            at += out.write(bytes, at);
        }
    }
}
