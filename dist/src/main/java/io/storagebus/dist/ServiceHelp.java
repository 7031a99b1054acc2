package io.storagebus.dist;

import io.storagebus.dist.config.Setting;
import io.storagebus.dist.config.Setting.Role;
import io.storagebus.dist.config.Settings;

/** {@code storagebus manager|worker|dev --help}: every key the service reads, how to set it, and its default. */
final class ServiceHelp {
    private ServiceHelp() {
    }

    static String of(Role role) {
        StringBuilder out = new StringBuilder("usage: storagebus " + role.label() + " [--config FILE] [--KEY VALUE ...]\n\n");
        out.append(switch (role) {
            case MANAGER -> "Runs a manager: the REST API, /metrics and /health/*. Start two or more for high availability:\n"
                    + "one is active, the others stand by, serve reads and send writes to the active one (307).\n";
            case WORKER -> "Runs the host worker of one hypervisor host, with /metrics and /health/* on worker.http-port.\n";
            case DEV -> "Runs ZooKeeper, Kafka, a manager and host workers in this one process, for trying StorageBus out.\n";
        });
        out.append("\nkeys (in the file as 'key = value'; as options --key VALUE; in the environment as shown):\n");
        for (Setting s : Settings.of(role)) {
            out.append(String.format("  %-30s %s%n", s.key() + (s.alias() == null ? "" : " (--" + s.alias() + ")"), s.description()));
            out.append(String.format("  %-30s %s; %s%n", "", s.required() ? "required" : "default: " + (s.defaultValue() == null ? "(derived)" : s.defaultValue()),
                    "$" + s.envName()));
        }
        return out.toString();
    }
}
