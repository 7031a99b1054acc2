package io.storagebus.manager.requests;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A request that became a task: published with its PENDING task state, to be carried out by the
 * SPM or a host. {@code details} are what else the client needs to follow it (the id of the
 * snapshot or backup it makes, the host it runs on), in the order they are shown.
 */
public record Submitted(String taskId, String volumeId, Map<String, Object> details) {
    public Submitted {
        details = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(details));
    }

    public Submitted(String taskId, String volumeId) {
        this(taskId, volumeId, Map.of());
    }

    /** The same, with one more detail after those it has. */
    public Submitted with(String name, Object value) {
        Map<String, Object> more = new LinkedHashMap<>(details);
        more.put(name, value);
        return new Submitted(taskId, volumeId, more);
    }
}
