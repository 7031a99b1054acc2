package io.storagebus.testkit.vm;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * A Linux VM for tests that need what this machine's kernel lacks (device-mapper): Debian's
 * distribution kernel under QEMU (TCG), with a busybox init that mounts the host's root over
 * virtio-9p, read-only beneath a tmpfs overlay. Inside, a command runs with the host's own JDK,
 * lvm2, qemu-img and test classes at the same paths, so a test class runs there unchanged; udevd
 * runs as on a real host, making the /dev/VG/LV nodes.
 *
 * <p>The kernel and busybox come unpacked from Debian packages by {@code .ci/test-vm-kernel} into
 * {@code $STORAGEBUS_TEST_VM_DIR} (default {@code ~/.cache/storagebus/test-vm}); nothing is
 * installed on the host. Each {@link #run} boots a fresh VM, so no state leaks between runs.
 */
public final class TestVm {
    /** Set to {@code required} (as CI does) to fail rather than skip when the VM's parts are missing. */
    public static final String REQUIRED_ENV = "STORAGEBUS_TEST_VM";
    /**
     * SSE4.2 without AVX: QEMU 7.2's TCG emulates AVX/AVX2 since that release, and a JVM whose JIT
     * used them under {@code -cpu max} crashed (SIGSEGV in compiled code) in one run of a dozen.
     */
    private static final String CPU = "Westmere";
    private static final String INIT = "/io/storagebus/testkit/vm/init";
    /** Modules the init loads, with what they need; the rest of the kernel's modules stay out of the initramfs. */
    private static final List<String> MODULES = List.of("virtio_pci", "virtio_blk", "virtio_net", "9pnet_virtio", "9p", "overlay",
            "dm-mod", "dm-snapshot", "dm-bufio", "loop");
    /** Where the VM finds the host when it has {@link #withHostNetwork a network}: QEMU's user-mode gateway. */
    public static final String HOST_ADDRESS = "10.0.2.2";

    private final Path kernelTree;
    private final String version;
    private final int memoryMiB;
    private final int cpus;
    private final boolean hostNetwork;

    private TestVm(Path kernelTree, String version, int memoryMiB, int cpus, boolean hostNetwork) {
        this.kernelTree = kernelTree;
        this.version = version;
        this.memoryMiB = memoryMiB;
        this.cpus = cpus;
        this.hostNetwork = hostNetwork;
    }

    /** What a command in the VM left: its exit status and the VM's console. */
    public record Outcome(int exitStatus, String console) {
    }

    /** The VM, if its kernel has been fetched and QEMU is here; otherwise why not. */
    public static Optional<TestVm> find() {
        return kernelTree().map(tree -> new TestVm(tree, moduleVersion(tree), 2048, Math.min(2, Runtime.getRuntime().availableProcessors()), false));
    }

    /**
     * The same VM with a network to the host (QEMU's user mode): a server on the host's loopback
     * at port P is {@code http://}{@value #HOST_ADDRESS}{@code :P} from inside, as an object
     * store on another machine would be. Without it the VM has no network at all.
     */
    public TestVm withHostNetwork() {
        return new TestVm(kernelTree, version, memoryMiB, cpus, true);
    }

    /**
     * The VM for a test that runs in it: when its kernel is missing, the test is skipped, or
     * fails where the VM is {@link #required}.
     */
    public static TestVm forTest() {
        Optional<TestVm> vm = find();
        if (vm.isPresent()) {
            return vm.get();
        }
        if (required()) {
            throw new AssertionFailedError(missing());
        }
        throw new TestAbortedException("skipped: " + missing());
    }

    /** Why {@link #find} found nothing, for a skip or a failure message. */
    public static String missing() {
        return "no test VM kernel in " + cacheDir() + " (run .ci/test-vm-kernel; it unpacks Debian's linux-image-amd64 and busybox-static)";
    }

    public static boolean required() {
        return "required".equals(System.getenv(REQUIRED_ENV));
    }

    public String kernelVersion() {
        return version;
    }

    /**
     * Boots a VM that runs {@code script} (a shell script) as root in {@code runDir}, which it
     * shares read-write at the same path; the VM powers off when the script ends.
     */
    public Outcome run(Path runDir, String script, Duration timeout) throws IOException, InterruptedException {
        runDir = runDir.toAbsolutePath();
        Files.createDirectories(runDir);
        Files.writeString(runDir.resolve("run.sh"), script);
        Files.deleteIfExists(runDir.resolve("exit"));
        Path initrd = initramfs(runDir.resolve("initramfs.cpio"));
        Path console = runDir.resolve("console.log");
        List<String> cmd = List.of("qemu-system-x86_64", "-accel", "tcg", "-cpu", CPU, "-smp", String.valueOf(cpus),
                "-m", String.valueOf(memoryMiB), "-nodefaults", "-no-reboot", "-display", "none", "-serial", "stdio",
                "-nic", hostNetwork ? "user,model=virtio-net-pci" : "none",
                "-kernel", kernelTree.resolve("boot/vmlinuz-" + version).toString(), "-initrd", initrd.toString(),
                "-append", "console=ttyS0 quiet panic=-1 sb.run=" + runDir,
                "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
                "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
                "-fsdev", "local,id=hostrun,path=" + runDir + ",security_model=none,multidevs=remap",
                "-device", "virtio-9p-pci,fsdev=hostrun,mount_tag=hostrun");
        Process qemu = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(console.toFile()).start();
        try {
            if (!qemu.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IOException("test VM still running after " + timeout + "; console:\n" + tail(console));
            }
        } finally {
            qemu.destroyForcibly();
            qemu.waitFor(30, TimeUnit.SECONDS);
        }
        Path exit = runDir.resolve("exit");
        if (!Files.exists(exit)) {
            throw new IOException("test VM stopped (QEMU exit " + qemu.exitValue() + ") without running the command; console:\n" + tail(console));
        }
        return new Outcome(Integer.parseInt(Files.readString(exit).trim()), Files.readString(console, StandardCharsets.UTF_8));
    }

    /** busybox, the init script and the modules it loads (with what they depend on), as a newc cpio archive. */
    private Path initramfs(Path archive) throws IOException, InterruptedException {
        Path tree = Files.createTempDirectory(archive.getParent(), "initramfs-");
        Path modules = kernelTree.resolve("lib/modules").resolve(version);
        Files.createDirectories(tree.resolve("bin"));
        Files.copy(kernelTree.resolve("bin/busybox"), tree.resolve("bin/busybox"));
        try (InputStream init = TestVm.class.getResourceAsStream(INIT)) {
            Files.copy(init, tree.resolve("init"));
        }
        tree.resolve("init").toFile().setExecutable(true);
        tree.resolve("bin/busybox").toFile().setExecutable(true);
        for (String dir : List.of("proc", "sys", "dev", "tmp")) {
            Files.createDirectories(tree.resolve(dir));
        }
        for (String file : moduleFiles(modules)) {
            Path target = tree.resolve("lib/modules").resolve(version).resolve(file);
            Files.createDirectories(target.getParent());
            Files.copy(modules.resolve(file), target);
        }
        List<String> entries = new ArrayList<>();
        try (Stream<Path> all = Files.walk(tree)) {
            all.filter(p -> !p.equals(tree)).forEach(p -> entries.add(tree.relativize(p).toString()));
        }
        Process cpio = new ProcessBuilder(tree.resolve("bin/busybox").toString(), "cpio", "-o", "-H", "newc")
                .directory(tree.toFile()).redirectOutput(archive.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        cpio.getOutputStream().write((String.join("\n", entries) + "\n").getBytes(StandardCharsets.UTF_8));
        cpio.getOutputStream().close();
        if (cpio.waitFor() != 0) {
            throw new IOException("busybox cpio failed making " + archive);
        }
        deleteTree(tree);
        return archive;
    }

    /** The modules the init loads and their dependencies, from the kernel's modules.dep. */
    private static java.util.Set<String> moduleFiles(Path modules) throws IOException {
        java.util.Set<String> files = new java.util.LinkedHashSet<>();
        for (String line : Files.readAllLines(modules.resolve("modules.dep"))) {
            int colon = line.indexOf(':');
            String module = line.substring(0, colon);
            String name = module.substring(module.lastIndexOf('/') + 1).replaceFirst("\\.ko(\\.xz)?$", "");
            if (MODULES.contains(name)) {
                files.add(module);
                for (String dependency : line.substring(colon + 1).trim().split("\\s+")) {
                    if (!dependency.isEmpty()) {
                        files.add(dependency);
                    }
                }
            }
        }
        return files;
    }

    private static Path cacheDir() {
        String dir = System.getenv("STORAGEBUS_TEST_VM_DIR");
        return dir != null ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".cache", "storagebus", "test-vm");
    }

    private static Optional<Path> kernelTree() {
        if (!Files.isDirectory(cacheDir())) {
            return Optional.empty();
        }
        try (Stream<Path> trees = Files.list(cacheDir())) {
            return trees.filter(t -> Files.exists(t.resolve("ready"))).sorted().reduce((a, b) -> b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String moduleVersion(Path tree) {
        try (Stream<Path> versions = Files.list(tree.resolve("lib/modules"))) {
            return versions.map(p -> p.getFileName().toString()).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no kernel modules in " + tree));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String tail(Path console) throws IOException {
        List<String> lines = Files.exists(console) ? Files.readAllLines(console, StandardCharsets.ISO_8859_1) : List.of();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    }

    private static void deleteTree(Path tree) throws IOException {
        try (Stream<Path> all = Files.walk(tree)) {
            for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
