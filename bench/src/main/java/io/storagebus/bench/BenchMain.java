package io.storagebus.bench;

import java.util.Arrays;

/** {@code bin/storagebus bench <name> [options]}: runs a benchmark and prints its figures, last line JSON. */
public final class BenchMain {
    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        String name = args.length == 0 ? "" : args[0];
        String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
        switch (name) {
            case "copy" -> CopyBenchmark.main(rest);
            case "backup" -> BackupBenchmark.main(rest);
            case "failover" -> FailoverBenchmark.main(rest);
            case "extend" -> ExtendBenchmark.main(rest);
            case "maintenance" -> MaintenanceBenchmark.main(rest);
            case "signatures" -> SignatureBenchmark.main(rest);
            case "create" -> CreateBenchmark.main(rest);
            case "state" -> StateBenchmark.main(rest);
            case "move" -> MoveBenchmark.main(rest);
            case "transfer" -> TransferBenchmark.main(rest);
            case "events" -> EventsBenchmark.main(rest);
            default -> {
                System.err.println("usage: storagebus bench copy [--size-gib N] [--data-gib N] [--part-size SIZE] [--dir DIR]\n"
                        + "       storagebus bench backup [--size-gib N] [--data-gib N] [--dir DIR]\n"
                        + "       storagebus bench failover [--kills N] [--session-timeout-ms N] [--zk-tick-ms N]\n"
                        + "       storagebus bench extend [--hosts N] [--volumes-per-host M] [--duration S] [--warmup S]\n"
                        + "                               [--write-rate-mb N] [--chunk-mb N] [--capacity SIZE] [--storm S] [--dir DIR]\n"
                        + "                               [--bootstrap-servers B --zookeeper Z]\n"
                        + "       storagebus bench maintenance [--subscribers N] [--rounds N] [--dir DIR]\n"
                        + "       storagebus bench move [--size-gib N] [--data-gib N] [--write-rate-mb N] [--dir DIR]\n"
                        + "       storagebus bench transfer [--size-gib N] [--data-gib N] [--dir DIR]\n"
                        + "       storagebus bench events [--clients N] [--events N] [--dir DIR]\n"
                        + "       storagebus bench signatures [--records N]\n"
                        + "       storagebus bench create [--in-flight N] [--creates N] [--rate N] [--rate-seconds S] [--pool-sizes 0,10000,100000]\n"
                        + "                               [--formats raw,qcow2] [--dir DIR] [--url U --token T --bootstrap-servers B]\n"
                        + "       storagebus bench state [--volumes N] [--finished-tasks N] [--dir DIR]");
                System.exit(2);
            }
        }
    }
}
