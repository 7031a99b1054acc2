package io.storagebus.dist.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import io.storagebus.bus.KafkaAcls;
import io.storagebus.dist.CommandKeyFiles;
import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.Role;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.apache.kafka.common.acl.AclBinding;

/**
 * The operator's verbs: {@code storagebus <noun> <verb> [args] [--options]}, each a REST call to
 * a manager (any of them: a standby sends writes on to the active one) printed as a table, or
 * as the API's JSON with {@code --output json}. {@code events tail} reads Kafka directly.
 */
public final class Cli {
    /** One verb: its usage line, what it does, and how it runs. */
    record Verb(String noun, String name, String usage, String help, Action action) {
        String path() {
            return name.isEmpty() ? noun : noun + " " + name;
        }
    }

    @FunctionalInterface
    interface Action {
        int run(Invocation call) throws Exception;
    }

    static final List<Verb> VERBS = List.of(
            new Verb("domains", "list", "", "storage domains", c -> c.table(c.api().get("/api/v1/domains"),
                    "id", "name", "pool", "driver", "status")),
            new Verb("domains", "show", "DOMAIN_ID", "one domain with its properties (secrets masked)",
                    c -> c.object(c.api().get("/api/v1/domains/" + c.arg(0)))),
            new Verb("domains", "create", "--name NAME --driver DRIVER [--pool POOL] [--trash-retention SECONDS] --property KEY=VALUE...",
                    "registers a domain; properties as the driver describes them (storagebus drivers)", Cli::createDomain),
            new Verb("domains", "update", "DOMAIN_ID [--property KEY=VALUE...] [--trash-retention SECONDS]",
                    "changes properties (rotates keys, say), checked on a host as at creation (the storage stays the same), "
                            + "or how long the domain's trash keeps deleted volumes",
                    c -> c.object(c.api().patch("/api/v1/domains/" + c.arg(0), trashRetention(c, new JsonObject().put("properties", properties(c)))))),
            new Verb("domains", "detach", "DOMAIN_ID", "removes a domain in maintenance from StorageBus, its storage untouched "
                    + "(create it again with importVolumes to bring it back)", c -> c.object(c.api().delete("/api/v1/domains/" + c.arg(0)))),
            new Verb("drivers", "list", "", "drivers, their capabilities and properties", c -> c.table(c.api().get("/api/v1/drivers"),
                    "name", "capabilities")),
            new Verb("volumes", "list", "DOMAIN_ID", "volumes of a domain", c -> c.table(c.api().getAll("/api/v1/domains/" + c.arg(0) + "/volumes"),
                    "id", "name", "status", "format", "virtualSize", "lease")),
            new Verb("volumes", "show", "VOLUME_ID", "one volume", c -> c.object(c.api().get("/api/v1/volumes/" + c.arg(0)))),
            new Verb("volumes", "create", "DOMAIN_ID --name NAME --size BYTES [--format raw|qcow2] [--allocation thin|preallocated]",
                    "creates a volume; prints its task", Cli::createVolume),
            new Verb("volumes", "prepare", "VOLUME_ID --host HOST_ID", "makes the volume usable on a host (takes its lease)",
                    c -> c.object(c.api().post("/api/v1/volumes/" + c.arg(0) + "/prepare", new JsonObject().put("hostId", c.required("host"))))),
            new Verb("volumes", "teardown", "VOLUME_ID", "releases the volume from its host",
                    c -> c.object(c.api().post("/api/v1/volumes/" + c.arg(0) + "/teardown", new JsonObject()))),
            new Verb("volumes", "copy", "VOLUME_ID --to DOMAIN_ID [--name NAME]", "copies a volume into another domain", Cli::copyVolume),
            new Verb("volumes", "move", "VOLUME_ID --to DOMAIN_ID [--mirror-bandwidth SIZE_PER_SECOND]",
                    "moves a volume to another domain, keeping its id (the source is delinked); live, through its guest's QEMU, if prepared",
                    Cli::moveVolume),
            new Verb("volumes", "resize", "VOLUME_ID --size SIZE", "grows a volume's virtual size (SIZE: bytes or 8G, 512M...), live if a guest uses it; never shrinks",
                    c -> c.object(c.api().post("/api/v1/volumes/" + c.arg(0) + "/resize", new JsonObject().put("virtualSize", c.size("size"))))),
            new Verb("volumes", "upload", "FILE (--domain DOMAIN_ID --name NAME [--format raw|qcow2] [--allocation thin|preallocated] | --volume VOLUME_ID) [--timeout SECONDS]",
                    "sends a raw or qcow2 image (found by its header) into a new volume, or replaces an existing volume's data; sparse, "
                            + "resumed after a broken connection, checked by SHA-256", Cli::upload),
            new Verb("volumes", "download", "VOLUME_ID FILE [--format raw|qcow2] [--timeout SECONDS]",
                    "fetches a volume's image (its snapshots flattened) into FILE, sparse, checked by SHA-256", Cli::download),
            new Verb("transfers", "show", "TRANSFER_ID", "one image transfer, with its URL (operators only)",
                    c -> c.object(c.api().get("/api/v1/transfers/" + c.arg(0)))),
            new Verb("transfers", "cancel", "TRANSFER_ID", "cancels an image transfer; the volume stays as it was",
                    c -> c.object(c.api().delete("/api/v1/transfers/" + c.arg(0)))),
            new Verb("volumes", "clone", "VOLUME_ID --name NAME", "a copy-on-write clone in the same domain (the source becomes its template)",
                    c -> c.object(c.api().post("/api/v1/volumes/" + c.arg(0) + "/clone", new JsonObject().put("name", c.required("name"))))),
            new Verb("volumes", "delete", "VOLUME_ID [--purge] [--wipe]",
                    "moves a volume to the trash (its data kept until purged); --purge destroys it at once, --wipe zeros it first; its backups stay",
                    c -> c.object(c.api().delete("/api/v1/volumes/" + c.arg(0) + (c.flag("wipe") ? "?wipe=true" : c.flag("purge") ? "?purge=true" : "")))),
            new Verb("trash", "list", "[--domain DOMAIN_ID]", "deleted volumes in the trash, longest there first",
                    c -> c.table(c.api().getAll("/api/v1/trash" + (c.option("domain") == null ? "" : "?domainId=" + c.option("domain"))),
                            "id", "name", "domainId", "virtualSize", "trashedAt")),
            new Verb("trash", "restore", "VOLUME_ID", "brings a volume back from the trash under its id (its name must be free)",
                    c -> c.object(c.api().post("/api/v1/trash/" + c.arg(0) + "/restore", new JsonObject()))),
            new Verb("trash", "purge", "VOLUME_ID [--wipe]", "destroys a volume in the trash for good (--wipe: zeros first)",
                    c -> c.object(c.api().delete("/api/v1/trash/" + c.arg(0) + (c.flag("wipe") ? "?wipe=true" : "")))),
            new Verb("snapshots", "list", "VOLUME_ID", "a volume's snapshots, oldest first",
                    c -> c.table(c.api().get("/api/v1/volumes/" + c.arg(0) + "/snapshots"), "id", "name", "status", "parentSnapshotId", "createdAt")),
            new Verb("snapshots", "create", "VOLUME_ID --name NAME", "takes a snapshot (live, through the guest's QEMU, if the volume is prepared)",
                    c -> c.object(c.api().post("/api/v1/volumes/" + c.arg(0) + "/snapshots", new JsonObject().put("name", c.required("name"))))),
            new Verb("snapshots", "delete", "VOLUME_ID SNAPSHOT_ID", "deletes a snapshot by merging its layer into the one above",
                    c -> c.object(c.api().delete("/api/v1/volumes/" + c.arg(0) + "/snapshots/" + c.arg(1)))),
            new Verb("backups", "list", "[--volume VOLUME_ID]", "backups, oldest first (a deleted volume's too)",
                    c -> c.table(c.api().getAll("/api/v1/backups" + (c.option("volume") == null ? "" : "?volumeId=" + c.option("volume"))),
                            "id", "volumeName", "kind", "status", "bytes", "scheduled", "createdAt")),
            new Verb("backups", "show", "BACKUP_ID", "one backup with its chain and checksum", c -> c.object(c.api().get("/api/v1/backups/" + c.arg(0)))),
            new Verb("backups", "create", "VOLUME_ID --to DOMAIN_ID [--snapshot SNAPSHOT_ID] [--incremental]",
                    "backs a snapshot (default: the newest) up to an object-store domain", Cli::backUp),
            new Verb("backups", "restore", "BACKUP_ID --to DOMAIN_ID --name NAME", "restores a backup as a new volume",
                    c -> c.object(c.api().post("/api/v1/backups/" + c.arg(0) + "/restore",
                            new JsonObject().put("targetDomainId", c.required("to")).put("name", c.required("name"))))),
            new Verb("backups", "delete", "BACKUP_ID", "removes a backup (not one an incremental stands on)",
                    c -> c.object(c.api().delete("/api/v1/backups/" + c.arg(0)))),
            new Verb("backups", "schedule", "VOLUME_ID --to DOMAIN_ID --every DURATION [--full-every N] [--keep-last N] [--keep-for DURATION]",
                    "backs the volume up every DURATION (ISO-8601: PT6H, P1D) and keeps the newest N (or younger than --keep-for)",
                    Cli::schedule),
            new Verb("backups", "unschedule", "VOLUME_ID", "stops the volume's backup schedule (its backups stay)", c -> {
                c.api().delete("/api/v1/volumes/" + c.arg(0) + "/backup-policy");
                c.out().println("backup schedule of volume " + c.arg(0) + " removed");
                return 0;
            }),
            new Verb("backups", "policies", "", "every volume's backup schedule", c -> c.table(c.api().getAll("/api/v1/backup-policies"),
                    "volumeId", "targetDomainId", "every", "fullEvery", "keepLast", "keepFor", "nextRunAt")),
            new Verb("tasks", "list", "[--status PENDING|RUNNING|SUCCEEDED|FAILED]", "tasks, newest first",
                    c -> c.table(c.api().getAll("/api/v1/tasks" + (c.option("status") == null ? "" : "?status=" + c.option("status"))),
                            "id", "type", "status", "volumeId", "updatedAt")),
            new Verb("tasks", "show", "TASK_ID", "one task", c -> c.object(c.api().get("/api/v1/tasks/" + c.arg(0)))),
            new Verb("tasks", "cancel", "TASK_ID", "cancels a move or a copy that has not finished (it ends FAILED, code CANCELLED)",
                    c -> c.object(c.api().delete("/api/v1/tasks/" + c.arg(0)))),
            new Verb("tasks", "wait", "TASK_ID [--timeout SECONDS]",
                    "waits until the task ends (default 60 s) and prints it; exits 0 if it SUCCEEDED, 1 if it FAILED or time ran out",
                    Cli::waitForTask),
            new Verb("hosts", "list", "", "host workers registered in ZooKeeper", c -> c.table(c.api().getAll("/api/v1/hosts"),
                    "hostId", "pool", "since")),
            new Verb("spm", "show", "[--pool POOL]", "the pool's SPM: host and epoch",
                    c -> c.object(c.api().get("/api/v1/pools/" + c.optionOr("pool", "default") + "/spm"))),
            new Verb("spm", "release", "[--pool POOL]", "asks the SPM to hand over to another host",
                    c -> c.object(c.api().post("/api/v1/pools/" + c.optionOr("pool", "default") + "/spm/release", new JsonObject()))),
            new Verb("maintenance", "request", "DOMAIN_ID --reason TEXT [--deadline SECONDS] [--drain-to DOMAIN_ID]",
                    "asks subscribers to vote on taking the domain into maintenance (--drain-to: its volumes move there first)",
                    Cli::requestMaintenance),
            new Verb("maintenance", "status", "DOMAIN_ID", "the domain's maintenance request: votes, who is silent, hosts",
                    c -> c.object(c.api().get("/api/v1/domains/" + c.arg(0) + "/maintenance"))),
            new Verb("maintenance", "cancel", "DOMAIN_ID", "cancels a request still being voted on",
                    c -> c.object(c.api().delete("/api/v1/domains/" + c.arg(0) + "/maintenance"))),
            new Verb("maintenance", "activate", "DOMAIN_ID", "brings a domain back from maintenance",
                    c -> c.object(c.api().post("/api/v1/domains/" + c.arg(0) + "/activate", new JsonObject()))),
            new Verb("subscribers", "list", "", "registered subscribers and whether they are alive",
                    c -> c.table(c.api().get("/api/v1/subscribers"), "id", "silence", "alive", "description", "refused")),
            new Verb("tokens", "create", "--name NAME --role admin|operator|viewer",
                    "makes a REST token: prints it once, and the line to add to manager.api-tokens-file (its hash) on every manager",
                    Cli::createToken),
            new Verb("command-keys", "create", "--dir DIR",
                    "makes the managers' command-signing key pair: DIR/commands.key for every manager, DIR/commands.pub for every worker",
                    Cli::createCommandKeys),
            new Verb("kafka-acls", "", "--for manager|host|spm|subscriber --principal User:NAME [--host-id H] [--pool P] [--subscriber-id S]",
                    "prints the Kafka ACLs that identity needs, as kafka-acls.sh arguments (docs/SECURITY.md)", Cli::kafkaAcls),
            new Verb("health", "", "", "the manager's health, role and the active manager", c -> c.object(c.api().get("/api/v1/health"))),
            new Verb("events", "tail", "[--type T[,T]] [--volume ID] [--domain ID] [--from-beginning] [--count N] [--command-config FILE]",
                    "prints public events as they happen (reads Kafka: --bootstrap-servers or $STORAGEBUS_KAFKA_BOOTSTRAP_SERVERS; "
                            + "a secured Kafka's client settings from --command-config, as a subscriber's identity)",
                    EventsTail::run),
            new Verb("completion", "bash", "", "prints a bash completion script: source <(storagebus completion bash)",
                    c -> {
                        c.out().print(completion());
                        return 0;
                    }));

    private Cli() {
    }

    /** Runs {@code argv} (noun, verb, args); returns the exit code: 0 done, 1 refused by the API or failed, 2 misused. */
    public static int run(String[] argv, Map<String, String> env, PrintStream out, PrintStream err) {
        String noun = argv[0];
        List<Verb> ofNoun = VERBS.stream().filter(v -> v.noun().equals(noun)).toList();
        if (ofNoun.isEmpty()) {
            err.println("storagebus: unknown command '" + noun + "'; try storagebus --help");
            return 2;
        }
        List<String> rest = new ArrayList<>(List.of(argv).subList(1, argv.length));
        boolean helpAsked = rest.contains("--help") || rest.contains("-h");
        Verb verb = ofNoun.stream().filter(v -> v.name().isEmpty()).findFirst().orElse(null);
        if (!rest.isEmpty() && ofNoun.stream().anyMatch(v -> v.name().equals(rest.get(0)))) {
            String name = rest.remove(0);
            verb = ofNoun.stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
        } else if (verb == null && !helpAsked && (rest.isEmpty() || rest.get(0).startsWith("--")) && ofNoun.get(0).name().equals("list")) {
            verb = ofNoun.get(0); // "storagebus hosts" lists them; "storagebus hosts --help" tells every verb
        }
        if (verb == null) {
            if (!helpAsked && !rest.isEmpty()) {
                err.println("storagebus " + noun + ": unknown verb '" + rest.get(0) + "'");
            }
            (helpAsked ? out : err).print(help(ofNoun));
            return helpAsked ? 0 : 2;
        }
        if (helpAsked) {
            out.print(help(List.of(verb)));
            return 0;
        }
        try {
            return verb.action().run(Invocation.parse(verb, rest, env, out, err));
        } catch (Invocation.UsageException e) {
            err.println("storagebus " + verb.path() + ": " + e.getMessage());
            err.println("usage: storagebus " + verb.path() + " " + verb.usage());
            return 2;
        } catch (ApiClient.ApiException e) {
            err.println("storagebus " + verb.path() + ": " + e.getMessage());
            if (e.body() != null && "json".equals(e.output())) {
                out.println(e.body().encodePrettily());
            }
            return 1;
        } catch (Exception e) {
            err.println("storagebus " + verb.path() + ": " + e.getMessage());
            return 1;
        }
    }

    static String help(List<Verb> verbs) {
        StringBuilder b = new StringBuilder();
        for (Verb v : verbs) {
            b.append("usage: storagebus ").append(v.path()).append(v.usage().isEmpty() ? "" : " " + v.usage()).append('\n')
                    .append("       ").append(v.help()).append("\n");
        }
        b.append("""

                common options:
                  --url URL[,URL...]   managers to ask, first answering wins (default $STORAGEBUS_URL or http://127.0.0.1:8080)
                  --token TOKEN        the REST API's bearer token (default $STORAGEBUS_TOKEN)
                  --ca-file PEM        certificates to trust for https, e.g. a self-signed manager's (default $STORAGEBUS_CA_FILE)
                  --output table|json  table for people (default), the API's JSON for scripts
                """);
        return b.toString();
    }

    private static int createDomain(Invocation c) throws Exception {
        JsonObject body = new JsonObject().put("name", c.required("name")).put("driver", c.required("driver")).put("properties", properties(c));
        if (c.option("pool") != null) {
            body.put("pool", c.option("pool"));
        }
        return c.object(c.api().post("/api/v1/domains", trashRetention(c, body)));
    }

    /** The body with {@code --trash-retention SECONDS}, if given. */
    private static JsonObject trashRetention(Invocation c, JsonObject body) {
        if (c.option("trash-retention") != null) {
            body.put("trashRetention", c.integer("trash-retention"));
        }
        return body;
    }

    /** The {@code --property KEY=VALUE} options. */
    private static JsonObject properties(Invocation c) throws Invocation.UsageException {
        JsonObject properties = new JsonObject();
        for (String p : c.options("property")) {
            int eq = p.indexOf('=');
            if (eq <= 0) {
                throw new Invocation.UsageException("--property takes KEY=VALUE, got '" + p + "'");
            }
            properties.put(p.substring(0, eq), p.substring(eq + 1));
        }
        return properties;
    }

    private static int createVolume(Invocation c) throws Exception {
        JsonObject body = new JsonObject().put("name", c.required("name")).put("virtualSize", c.size("size"));
        if (c.option("format") != null) {
            body.put("format", c.option("format"));
        }
        if (c.option("allocation") != null) {
            body.put("allocation", c.option("allocation"));
        }
        return c.object(c.api().postOnce("/api/v1/domains/" + c.arg(0) + "/volumes", body));
    }

    private static int upload(Invocation c) throws Exception {
        ImageTransferClient.Image image = ImageTransferClient.Image.of(Path.of(c.arg(0)));
        JsonObject started;
        if (c.option("volume") != null) {
            // The SPM would refuse it after it was all sent; say so before.
            long volumeSize = ((JsonObject) c.api().get("/api/v1/volumes/" + c.option("volume"))).getLong("virtualSize");
            if (image.virtualSize() > volumeSize) {
                throw new Invocation.UsageException(image.file() + " shows " + image.virtualSize() + " bytes; volume " + c.option("volume")
                        + " is " + volumeSize + " (volumes resize it first)");
            }
            started = (JsonObject) c.api().post("/api/v1/volumes/" + c.option("volume") + "/transfers",
                    new JsonObject().put("direction", "upload").put("format", image.format()));
        } else {
            JsonObject body = new JsonObject().put("name", c.required("name")).put("virtualSize", image.virtualSize())
                    .put("format", c.optionOr("format", image.format()))
                    .put("source", new JsonObject().put("upload", new JsonObject().put("format", image.format())));
            if (c.option("allocation") != null) {
                body.put("allocation", c.option("allocation"));
            }
            started = (JsonObject) c.api().postOnce("/api/v1/domains/" + c.required("domain") + "/volumes", body);
        }
        String transferId = started.getString("transferId");
        c.err().println("uploading " + image.file() + " (" + image.format() + ", " + image.size() + " bytes) as transfer " + transferId);
        ImageTransferClient.Done done = new ImageTransferClient(c.err()).upload(transferUrl(c, transferId), image);
        c.err().println("stored, sha256 " + done.sha256());
        return c.object(endedTask(c, transferId));
    }

    private static int download(Invocation c) throws Exception {
        JsonObject body = new JsonObject().put("direction", "download");
        if (c.option("format") != null) {
            body.put("format", c.option("format"));
        }
        JsonObject started = (JsonObject) c.api().post("/api/v1/volumes/" + c.arg(0) + "/transfers", body);
        String transferId = started.getString("transferId");
        JsonObject transfer = readyTransfer(c, transferId).getJsonObject("transfer");
        c.err().println("downloading volume " + c.arg(0) + " (" + transfer.getString("format") + ", " + transfer.getLong("sizeBytes")
                + " bytes) as transfer " + transferId);
        new ImageTransferClient(c.err()).download(transferUrl(c, transferId), Path.of(c.arg(1)), transfer.getLong("sizeBytes"),
                transfer.getString("sha256"));
        return c.object(endedTask(c, transferId));
    }

    /** Where the transfer is served now, as the manager says (a new SPM serves it at a new URL). */
    private static ImageTransferClient.TransferUrl transferUrl(Invocation c, String transferId) {
        return () -> {
            try {
                return readyTransfer(c, transferId).getJsonObject("transfer").getString("url");
            } catch (java.io.IOException | InterruptedException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new java.io.IOException(e.getMessage(), e);
            }
        };
    }

    /** The transfer once its SPM serves it (its URL known); a transfer that failed before that is its error. */
    private static JsonObject readyTransfer(Invocation c, String transferId) throws Exception {
        return pollTransfer(c, transferId, t -> t.getJsonObject("transfer").containsKey("url"), "is not served yet");
    }

    /** The transfer's task once it ended: the SPM answered the finish before it committed the outcome. */
    private static JsonObject endedTask(Invocation c, String transferId) throws Exception {
        return pollTransfer(c, transferId, t -> false, "has not ended");
    }

    private static JsonObject pollTransfer(Invocation c, String transferId, java.util.function.Predicate<JsonObject> ready, String notYet)
            throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(c.option("timeout") == null ? 600 : c.integer("timeout"));
        while (true) {
            JsonObject transfer = (JsonObject) c.api().get("/api/v1/transfers/" + transferId);
            String status = transfer.getString("status");
            if ("FAILED".equals(status)) {
                JsonObject error = transfer.getJsonObject("error", new JsonObject());
                throw new ApiClient.ApiException("transfer " + transferId + " failed: " + error.getString("code") + ": "
                        + error.getString("message"), transfer, c.output());
            }
            if ("SUCCEEDED".equals(status) || ready.test(transfer)) {
                return transfer;
            }
            if (System.nanoTime() > deadline) {
                throw new ApiClient.ApiException("transfer " + transferId + " " + notYet + " after " + c.optionOr("timeout", "600") + " s",
                        transfer, c.output());
            }
            java.util.concurrent.CompletableFuture.runAsync(() -> { },
                    java.util.concurrent.CompletableFuture.delayedExecutor(100, java.util.concurrent.TimeUnit.MILLISECONDS)).join();
        }
    }

    private static int copyVolume(Invocation c) throws Exception {
        JsonObject body = new JsonObject().put("targetDomainId", c.required("to"));
        if (c.option("name") != null) {
            body.put("name", c.option("name"));
        }
        return c.object(c.api().post("/api/v1/volumes/" + c.arg(0) + "/copy", body));
    }

    private static int moveVolume(Invocation c) throws Exception {
        JsonObject body = new JsonObject().put("targetDomainId", c.required("to"));
        if (c.option("mirror-bandwidth") != null) {
            body.put("mirrorBandwidth", c.size("mirror-bandwidth"));
        }
        return c.object(c.api().post("/api/v1/volumes/" + c.arg(0) + "/move", body));
    }

    private static int backUp(Invocation c) throws Exception {
        JsonObject body = new JsonObject().put("targetDomainId", c.required("to")).put("incremental", c.flag("incremental"));
        if (c.option("snapshot") != null) {
            body.put("snapshotId", c.option("snapshot"));
        }
        return c.object(c.api().post("/api/v1/volumes/" + c.arg(0) + "/backups", body));
    }

    private static int schedule(Invocation c) throws Exception {
        JsonObject body = new JsonObject().put("targetDomainId", c.required("to")).put("every", c.required("every"));
        if (c.option("full-every") != null) {
            body.put("fullEvery", c.integer("full-every"));
        }
        if (c.option("keep-last") != null) {
            body.put("keepLast", c.integer("keep-last"));
        }
        if (c.option("keep-for") != null) {
            body.put("keepFor", c.option("keep-for"));
        }
        return c.object(c.api().put("/api/v1/volumes/" + c.arg(0) + "/backup-policy", body));
    }

    /** Asks every 100 ms: tasks of a dev stack end in a tenth of a second, and a script should not wait longer than that. */
    private static int waitForTask(Invocation c) throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(c.option("timeout") == null ? 60 : c.integer("timeout"));
        while (true) {
            JsonObject task = (JsonObject) c.api().get("/api/v1/tasks/" + c.arg(0));
            String status = task.getString("status");
            if ("SUCCEEDED".equals(status) || "FAILED".equals(status)) {
                c.object(task);
                return "SUCCEEDED".equals(status) ? 0 : 1;
            }
            if (System.nanoTime() > deadline) {
                c.object(task);
                c.err().println("storagebus tasks wait: task " + c.arg(0) + " is still " + status + " after " + c.optionOr("timeout", "60") + " s");
                return 1;
            }
            Thread.sleep(100);
        }
    }

    /** Offline: nothing is sent; the token is shown once, the manager only ever learns its hash. */
    private static int createToken(Invocation c) throws Exception {
        String name = c.required("name");
        Role role;
        try {
            role = Role.valueOf(c.required("role").toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new Invocation.UsageException("--role must be admin, operator or viewer");
        }
        String token = ApiTokens.generate();
        String line;
        try {
            line = ApiTokens.line(name, role, token);
        } catch (IllegalArgumentException e) {
            throw new Invocation.UsageException(e.getMessage());
        }
        if ("json".equals(c.output())) {
            return c.object(new JsonObject().put("name", name).put("role", role.name().toLowerCase(java.util.Locale.ROOT))
                    .put("token", token).put("line", line));
        }
        c.out().println("token: " + token);
        c.out().println("       (shown this once: hand it to its user as $STORAGEBUS_TOKEN; StorageBus keeps only its hash)");
        c.out().println("line:  " + line);
        c.out().println("       (append it to manager.api-tokens-file on every manager; they read the file again when it changes)");
        return 0;
    }

    /** Offline: the private key is written readable by its owner only, and never printed. */
    private static int createCommandKeys(Invocation c) throws Exception {
        Path dir = Path.of(c.required("dir"));
        Path privateKey = dir.resolve(CommandKeyFiles.PRIVATE_FILE);
        Path publicKey = dir.resolve(CommandKeyFiles.PUBLIC_FILE);
        if (Files.exists(privateKey) || Files.exists(publicKey)) {
            throw new Invocation.UsageException(dir + " already holds command keys; move them away first (see docs/SECURITY.md, replacing the key)");
        }
        CommandKeyFiles.create(dir);
        c.out().println("private key: " + privateKey + "  (commands.signing-key-file of every manager; keep it secret)");
        c.out().println("public key:  " + publicKey + "  (commands.trusted-keys-file of every worker)");
        return 0;
    }

    /** Offline: the grants of one StorageBus identity, for the operator to apply with Kafka's own tools. */
    private static int kafkaAcls(Invocation c) throws Exception {
        String principal = c.required("principal");
        String pool = c.optionOr("pool", "default");
        List<AclBinding> acls;
        try {
            acls = switch (c.required("for")) {
                case "manager" -> KafkaAcls.manager(principal);
                case "host" -> KafkaAcls.host(principal, c.required("host-id"), pool);
                case "spm" -> KafkaAcls.spm(principal, pool);
                case "subscriber" -> KafkaAcls.subscriber(principal, c.required("subscriber-id"));
                default -> throw new Invocation.UsageException("--for must be manager, host, spm or subscriber");
            };
        } catch (IllegalArgumentException e) {
            throw new Invocation.UsageException(e.getMessage());
        }
        KafkaAcls.asKafkaAclsArguments(acls).forEach(c.out()::println);
        return 0;
    }

    private static int requestMaintenance(Invocation c) throws Exception {
        JsonObject body = new JsonObject().put("reason", c.required("reason"));
        if (c.option("deadline") != null) {
            body.put("deadlineSeconds", c.integer("deadline"));
        }
        if (c.option("drain-to") != null) {
            body.put("drain", new JsonObject().put("targetDomainId", c.option("drain-to")));
        }
        return c.object(c.api().post("/api/v1/domains/" + c.arg(0) + "/maintenance", body));
    }

    /** A bash completion script for nouns, verbs and options. */
    static String completion() {
        Map<String, List<String>> verbs = new TreeMap<>();
        Map<String, Set<String>> options = new LinkedHashMap<>();
        for (Verb v : VERBS) {
            verbs.computeIfAbsent(v.noun(), k -> new ArrayList<>());
            if (!v.name().isEmpty()) {
                verbs.get(v.noun()).add(v.name());
            }
            Set<String> opts = new java.util.TreeSet<>(Set.of("--url", "--output", "--help"));
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("--[a-z-]+").matcher(v.usage());
            while (m.find()) {
                opts.add(m.group());
            }
            options.put(v.noun() + " " + v.name(), opts);
        }
        StringBuilder b = new StringBuilder("# bash completion for storagebus: source <(storagebus completion bash)\n_storagebus() {\n");
        b.append("  local cur=${COMP_WORDS[COMP_CWORD]}\n");
        b.append("  if [ $COMP_CWORD -eq 1 ]; then COMPREPLY=($(compgen -W \"dev manager worker config ")
                .append(String.join(" ", verbs.keySet())).append("\" -- \"$cur\")); return; fi\n");
        b.append("  if [ $COMP_CWORD -eq 2 ]; then case ${COMP_WORDS[1]} in\n");
        b.append("    config) COMPREPLY=($(compgen -W \"check show\" -- \"$cur\"));;\n");
        verbs.forEach((noun, names) -> b.append("    ").append(noun).append(") COMPREPLY=($(compgen -W \"")
                .append(String.join(" ", names)).append("\" -- \"$cur\"));;\n"));
        b.append("  esac; return; fi\n");
        b.append("  case \"${COMP_WORDS[1]} ${COMP_WORDS[2]}\" in\n");
        options.forEach((key, opts) -> b.append("    \"").append(key).append("\") COMPREPLY=($(compgen -W \"")
                .append(String.join(" ", opts)).append("\" -- \"$cur\"));;\n"));
        b.append("  esac\n}\ncomplete -F _storagebus storagebus\n");
        return b.toString();
    }

    /** Reads a JSON answer's field for a table cell: nested objects and arrays compactly, null as '-'. */
    static String cell(Object value) {
        if (value == null) {
            return "-";
        }
        if (value instanceof JsonObject o) {
            // A lease or an SPM term reads as its host.
            return o.containsKey("hostId") ? o.getString("hostId") : o.containsKey("host") ? o.getString("host") : o.encode();
        }
        if (value instanceof JsonArray a) {
            List<String> items = new ArrayList<>();
            a.forEach(i -> items.add(String.valueOf(i)));
            return String.join(",", items);
        }
        return String.valueOf(value);
    }
}
