package io.storagebus.system;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import io.storagebus.testkit.QemuProcess;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * A QEMU whose disk is a prepared volume, registered with the volume's host for watching
 * ({@code POST /volumes/{id}/monitor}, node {@code vol}), and the test's own QMP connection to it.
 */
record WatchedGuest(QemuProcess qemu, ThinVolumes.TestQmp qmp) implements AutoCloseable {
    /** A qcow2 image in a file at {@code path}: protocol node {@code vol-file}, format node {@code vol}, device {@code disk0}. */
    static List<String> qcow2File(String path) {
        return List.of("-blockdev", "driver=file,filename=" + path + ",node-name=vol-file",
                "-blockdev", "driver=qcow2,file=vol-file,node-name=vol", "-device", "virtio-blk-pci,drive=vol,id=disk0");
    }

    /** A raw image on a block device: protocol node {@code vol-file}, format node {@code vol}, device {@code disk0}. */
    static List<String> rawDevice(String device) {
        return List.of("-blockdev", "driver=host_device,filename=" + device + ",node-name=vol-file",
                "-blockdev", "driver=raw,file=vol-file,node-name=vol", "-device", "virtio-blk-pci,drive=vol,id=disk0");
    }

    /** Starts the guest with {@code disk} in {@code vm} and has the volume's host watch it. */
    static WatchedGuest start(Http http, String volumeId, List<String> disk, Path vm) throws Exception {
        List<String> args = new ArrayList<>(disk);
        args.addAll(ThinVolumes.testMonitor(vm));
        QemuProcess qemu = QemuProcess.start(vm, args);
        WatchedGuest guest = new WatchedGuest(qemu, new ThinVolumes.TestQmp(vm.resolve("test.sock")));
        Http.Response r = http.post("/api/v1/volumes/" + volumeId + "/monitor", new JsonObject().put("qmpSocket", qemu.qmpSocket().toString())
                .put("nodeName", "vol"));
        if (r.status() != 202) {
            guest.close();
        }
        assertEquals(202, r.status(), r.body());
        return guest;
    }

    /** The size the guest's disk shows, as QEMU reports the node under its device. */
    long diskSize() throws Exception {
        for (Object o : (JsonArray) qmp.execute("query-named-block-nodes", null)) {
            JsonObject node = (JsonObject) o;
            if ("vol".equals(node.getString("node-name"))) {
                return node.getJsonObject("image").getLong("virtual-size");
            }
        }
        throw new AssertionError("the guest has no node vol");
    }

    /** Asks QEMU to quit and waits until it has. */
    void quit() {
        qmp.quit(qemu);
    }

    @Override
    public void close() {
        qmp.close();
        qemu.close();
    }
}
