package io.storagebus.manager.state;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Predicate;

import io.storagebus.bus.Topics;
import io.storagebus.schema.TaskState;
import org.apache.avro.specific.SpecificRecord;

/**
 * The state view's tasks. The few that are PENDING or RUNNING are kept as records, apart, so
 * what asks about running tasks (a maintenance's self-veto, the backup schedule) looks at those
 * only; the finished ones, nearly all of them, as {@link FinishedTask}s. All are indexed newest
 * first for the pages of GET /tasks and oldest first for the sweeper. Rows change on the view's
 * thread and by the manager's reservations, one change at a time; readers never lock.
 */
final class TaskTable implements StateView.Rows {
    /** A task's place in the list: newest first, then by id. */
    private record Key(long createdAt, Object id) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            int byTime = Long.compare(o.createdAt, createdAt);
            return byTime != 0 ? byTime : CompactIds.compare(id, o.id);
        }

        String cursor() {
            return Page.newestFirst(Instant.ofEpochMilli(createdAt), CompactIds.expand(id));
        }

        static Key ofCursor(String cursor) {
            Map.Entry<Instant, String> at = Page.ofNewestFirst(cursor);
            return new Key(at.getKey().toEpochMilli(), CompactIds.compact(at.getValue()));
        }

        static Key of(Object id, TaskState t) {
            return new Key(t.getCreatedAt().toEpochMilli(), id);
        }
    }

    /** A task record as {@link #put} takes it: its id compact and, if it finished, in its compact form. */
    private record Row(Object id, TaskState state, FinishedTask finished) {
    }

    private final Map<Object, TaskState> running = new ConcurrentHashMap<>();
    /** Sized for a busy pool from the start: growing a map of a million entries step by step slowed a restart's read. */
    private final Map<Object, FinishedTask> finished = new ConcurrentHashMap<>(1 << 16);
    /** Every task's id, by its {@link Key}. */
    private final ConcurrentSkipListMap<Key, Object> byAge = new ConcurrentSkipListMap<>();

    @Override
    public String topic() {
        return Topics.TASK_STATE;
    }

    Optional<TaskState> get(String id) {
        return Optional.ofNullable(row(CompactIds.compact(id)));
    }

    /** The tasks that are PENDING or RUNNING. */
    Collection<TaskState> running() {
        return running.values();
    }

    int size() {
        return running.size() + finished.size();
    }

    /** A page of the tasks, newest first, of those {@code wanted} keeps. */
    Page<TaskState> page(String cursor, int limit, Predicate<TaskState> wanted) {
        return Page.ofTimed(byAge, cursor, Key::ofCursor, Key::cursor, limit, this::row, wanted);
    }

    /**
     * Up to {@code max} ids of tasks that finished before {@code before}, oldest first. Only tasks
     * created before then are looked at: a task cannot have finished before it was made.
     */
    List<String> finishedBefore(Instant before, int max) {
        List<String> ids = new ArrayList<>();
        long until = before.toEpochMilli();
        for (Key k : byAge.descendingKeySet()) {
            if (k.createdAt >= until || ids.size() == max) {
                break;
            }
            FinishedTask f = finished.get(k.id);
            if (f != null && f.timestamp() < until) {
                ids.add(CompactIds.expand(k.id));
            }
        }
        return ids;
    }

    @Override
    public Object prepare(SpecificRecord record) {
        TaskState t = (TaskState) record;
        Object id = CompactIds.compact(t.getId());
        return new Row(id, t, FinishedTask.isFinished(t) ? FinishedTask.of(id, t) : null);
    }

    /** Applies a record from the task topic. */
    @Override
    public synchronized String put(Object prepared) {
        Row row = (Row) prepared;
        Object id = row.id();
        TaskState t = row.state();
        Key before = keyOf(id);
        if (row.finished() != null) {
            finished.put(id, row.finished());
            running.remove(id);
        } else {
            running.put(id, t);
            finished.remove(id);
        }
        Key after = Key.of(id, t);
        byAge.put(after, id);
        if (before != null && !before.equals(after)) {
            byAge.remove(before);
        }
        return t.getVolumeId();
    }

    /** Applies a tombstone: the task is gone for good. Returns the volume it concerned, if it was known. */
    @Override
    public synchronized String remove(String taskId) {
        Object id = CompactIds.compact(taskId);
        TaskState wasRunning = running.remove(id);
        if (wasRunning != null) {
            byAge.remove(Key.of(id, wasRunning));
            return wasRunning.getVolumeId();
        }
        FinishedTask wasFinished = finished.remove(id);
        if (wasFinished != null) {
            byAge.remove(new Key(wasFinished.createdAt(), id));
            return wasFinished.volumeId();
        }
        return null;
    }

    /** Takes a task the manager is about to publish, unless one of its id is known. */
    @Override
    public synchronized boolean reserve(SpecificRecord record) {
        TaskState t = (TaskState) record;
        Object id = CompactIds.compact(t.getId());
        if (running.containsKey(id) || finished.containsKey(id)) {
            return false;
        }
        running.put(id, t);
        byAge.put(Key.of(id, t), id);
        return true;
    }

    /** Takes back a reservation whose publication failed, unless the topic has said more meanwhile. */
    @Override
    public synchronized void release(SpecificRecord record) {
        TaskState t = (TaskState) record;
        Object id = CompactIds.compact(t.getId());
        if (running.remove(id, t)) {
            byAge.remove(Key.of(id, t));
        }
    }

    private Key keyOf(Object id) {
        TaskState t = running.get(id);
        if (t != null) {
            return Key.of(id, t);
        }
        FinishedTask f = finished.get(id);
        return f == null ? null : new Key(f.createdAt(), id);
    }

    private TaskState row(Object id) {
        TaskState t = running.get(id);
        if (t != null) {
            return t;
        }
        FinishedTask f = finished.get(id);
        return f == null ? null : f.toState();
    }
}
