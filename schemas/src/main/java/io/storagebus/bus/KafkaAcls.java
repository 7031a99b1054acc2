package io.storagebus.bus;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.stream.Collectors;
import java.util.TreeSet;
import java.util.Map;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Set;

import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The Kafka ACLs each StorageBus identity needs, and nothing more; on a broker with an authorizer
 * and {@code allow.everyone.if.no.acl.found=false}, everything else is refused. The same lists
 * are printed by {@code storagebus kafka-acls} and documented in docs/SECURITY.md.
 *
 * <ul>
 *   <li>a <b>manager</b> reads and writes every StorageBus topic: it publishes commands and keeps the state topics;</li>
 *   <li>a <b>host</b> reads its own host topic only, and writes its reports (its tasks' status,
 *       watermarks, votes, heartbeats, events, layer changes to its pool's SPM);</li>
 *   <li>the pool's <b>SPM</b> identity, which every host of the pool holds and uses only while it
 *       is the SPM, alone writes pool state and sends commands to hosts;</li>
 *   <li>a <b>subscriber</b> reads public events and maintenance requests and writes its votes and heartbeats.</li>
 * </ul>
 */
public final class KafkaAcls {
    private static final String PREFIX = "storagebus.";

    private KafkaAcls() {
    }

    public static List<AclBinding> manager(String principal) {
        Grants g = new Grants(principal);
        g.topic(PREFIX, PatternType.PREFIXED, AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE,
                AclOperation.DESCRIBE_CONFIGS);
        g.transactionalId("storagebus-manager");
        return g.bindings;
    }

    /** A host's own identity: it needs its subscriber's grants too, since it votes on maintenance as {@code host:<id>}. */
    public static List<AclBinding> host(String principal, String hostId, String pool) {
        Grants g = new Grants(principal);
        g.topic(Topics.hostCommands(hostId), PatternType.LITERAL, AclOperation.READ, AclOperation.DESCRIBE, AclOperation.CREATE);
        g.group("storagebus-host-" + hostId, PatternType.LITERAL);
        for (String reports : List.of(Topics.EVENTS, Topics.TASK_STATE, Topics.DEAD_LETTER, Topics.STORAGE_CHECKS, Topics.watermarks(pool),
                Topics.spmCommands(pool))) {
            g.topic(reports, PatternType.LITERAL, AclOperation.WRITE, AclOperation.DESCRIBE);
        }
        Set<AclBinding> all = new LinkedHashSet<>(g.bindings);
        all.addAll(subscriber(principal, "host:" + hostId));
        return List.copyOf(all);
    }

    /** The pool's SPM: every host of the pool holds it, so that any of them can take the role. */
    public static List<AclBinding> spm(String principal, String pool) {
        Grants g = new Grants(principal);
        g.topic(Topics.poolTopicPrefix(pool), PatternType.PREFIXED, AclOperation.READ, AclOperation.WRITE,
                AclOperation.DESCRIBE, AclOperation.CREATE);
        g.topic(Topics.HOST_TOPIC_PREFIX, PatternType.PREFIXED, AclOperation.WRITE, AclOperation.DESCRIBE);
        // The pool's domains, read when a term starts to build their capacity accounts before extends need them.
        g.topic(Topics.DOMAIN_STATE, PatternType.LITERAL, AclOperation.READ, AclOperation.DESCRIBE);
        for (String state : List.of(Topics.VOLUME_STATE, Topics.TASK_STATE, Topics.BACKUP_STATE, Topics.CAPACITY_STATE, Topics.EVENTS,
                Topics.DEAD_LETTER)) {
            g.topic(state, PatternType.LITERAL, AclOperation.WRITE, AclOperation.DESCRIBE);
        }
        // A host makes the shared topics as the SPM when it starts before any manager did.
        for (var topic : Topics.shared((short) 1)) {
            g.topic(topic.name(), PatternType.LITERAL, AclOperation.CREATE);
        }
        g.transactionalId("storagebus-spm-" + pool);
        g.group("storagebus-spm-" + pool, PatternType.PREFIXED);
        return g.bindings;
    }

    public static List<AclBinding> subscriber(String principal, String subscriberId) {
        Grants g = new Grants(principal);
        g.topic(Topics.EVENTS, PatternType.LITERAL, AclOperation.READ, AclOperation.DESCRIBE);
        g.topic(Topics.MAINTENANCE, PatternType.LITERAL, AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE);
        g.topic(Topics.SUBSCRIBERS, PatternType.LITERAL, AclOperation.WRITE, AclOperation.DESCRIBE);
        g.group("storagebus-subscriber-" + subscriberId, PatternType.LITERAL);
        return g.bindings;
    }

    /**
     * The {@code kafka-acls.sh} argument lines that add the bindings, for operators who apply ACLs
     * with Kafka's own tools: one line a principal, resource kind and pattern type and set of
     * operations, naming every resource that takes that set (kafka-acls.sh grants each operation
     * on each resource named), so that a handful of tool runs grant an identity everything.
     */
    public static List<String> asKafkaAclsArguments(List<AclBinding> bindings) {
        Map<String, Set<AclOperation>> operations = new LinkedHashMap<>();
        Map<String, ResourcePattern> patterns = new LinkedHashMap<>();
        for (AclBinding b : bindings) {
            String key = b.entry().principal() + " " + b.pattern();
            patterns.putIfAbsent(key, b.pattern());
            operations.computeIfAbsent(key, k -> new TreeSet<>()).add(b.entry().operation());
        }
        Map<String, List<String>> lines = new LinkedHashMap<>();
        for (Map.Entry<String, Set<AclOperation>> e : operations.entrySet()) {
            ResourcePattern r = patterns.get(e.getKey());
            String principal = e.getKey().substring(0, e.getKey().indexOf(' '));
            String head = "--add --allow-principal " + principal + e.getValue().stream()
                    .map(o -> " --operation " + toCamel(o.name())).collect(Collectors.joining())
                    + " --resource-pattern-type " + r.patternType().name().toLowerCase(Locale.ROOT);
            String option = switch (r.resourceType()) {
                case TOPIC -> "--topic";
                case GROUP -> "--group";
                case TRANSACTIONAL_ID -> "--transactional-id";
                default -> "--" + r.resourceType().name().toLowerCase(Locale.ROOT);
            };
            lines.computeIfAbsent(head + " " + r.resourceType(), k -> new ArrayList<>()).add(option + " '" + r.name() + "'");
        }
        return lines.entrySet().stream()
                .map(e -> e.getKey().substring(0, e.getKey().lastIndexOf(' ')) + " " + String.join(" ", e.getValue())).toList();
    }

    private static String toCamel(String upperSnake) {
        StringBuilder out = new StringBuilder();
        for (String part : upperSnake.split("_")) {
            out.append(part.charAt(0)).append(part.substring(1).toLowerCase(Locale.ROOT));
        }
        return out.toString();
    }

    /** Allow-grants of one principal, from any host. */
    private static final class Grants {
        private final String principal;
        private final List<AclBinding> bindings = new ArrayList<>();

        Grants(String principal) {
            if (!principal.contains(":")) {
                throw new IllegalArgumentException("a principal is 'User:name', not '" + principal + "'");
            }
            this.principal = principal;
        }

        void topic(String name, PatternType pattern, AclOperation... operations) {
            add(new ResourcePattern(ResourceType.TOPIC, name, pattern), operations);
        }

        void group(String name, PatternType pattern) {
            add(new ResourcePattern(ResourceType.GROUP, name, pattern), AclOperation.READ);
        }

        void transactionalId(String id) {
            add(new ResourcePattern(ResourceType.TRANSACTIONAL_ID, id, PatternType.LITERAL), AclOperation.WRITE, AclOperation.DESCRIBE);
        }

        private void add(ResourcePattern resource, AclOperation... operations) {
            for (AclOperation op : operations) {
                bindings.add(new AclBinding(resource, new AccessControlEntry(principal, "*", op, AclPermissionType.ALLOW)));
            }
        }
    }
}
