package io.storagebus.manager.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import io.storagebus.schema.Envelope;
import io.storagebus.schema.TaskState;
import io.storagebus.schema.TaskStatus;
import org.junit.jupiter.api.Test;

class TaskTableTest {
    private static final Instant T = Instant.parse("2026-12-01T00:00:00Z");

    private static TaskState task(String id, TaskStatus status, Instant createdAt, Instant at) {
        Envelope e = Envelope.newBuilder().setId(UUID.randomUUID().toString()).setCorrelationId(id).setCausationId(null).setPool("default")
                .setIssuer("host:h1").setTimestamp(at).setSpmEpoch(3L).build();
        return TaskState.newBuilder().setEnvelope(e).setId(id).setType("CREATE_VOLUME").setStatus(status).setDomainId("d1")
                .setVolumeId(UUID.randomUUID().toString()).setCreatedAt(createdAt).build();
    }

    private static void put(TaskTable table, TaskState t) {
        table.put(table.prepare(t));
    }

    private static List<String> ids(Page<TaskState> page) {
        return page.items().stream().map(TaskState::getId).toList();
    }

    @Test
    void aFinishedTaskComesBackAsTheVeryRecordAndLeavesTheRunningOnes() {
        TaskTable table = new TaskTable();
        String id = UUID.randomUUID().toString();
        put(table, task(id, TaskStatus.RUNNING, T, T));
        assertEquals(1, table.running().size());
        TaskState failed = TaskState.newBuilder(task(id, TaskStatus.FAILED, T, T.plusSeconds(5))).setErrorCode("NO_SPACE")
                .setErrorMessage("the domain is full").setDoneBytes(7L).setTotalBytes(9L).build();
        failed.getEnvelope().setCorrelationId("request-1");
        failed.getEnvelope().setCausationId("not-a-uuid");
        put(table, failed);
        assertEquals(Optional.of(failed), table.get(id));
        assertTrue(table.running().isEmpty());
        assertEquals(1, table.size());
        TaskState named = task("task-named-by-hand", TaskStatus.SUCCEEDED, T, T);
        put(table, named);
        assertEquals(Optional.of(named), table.get("task-named-by-hand"));
    }

    @Test
    void pagesAreNewestFirstAcrossRunningAndFinishedTasks() {
        TaskTable table = new TaskTable();
        for (int i = 0; i < 5; i++) {
            put(table, task("t" + i, i % 2 == 0 ? TaskStatus.SUCCEEDED : TaskStatus.RUNNING, T.plusSeconds(i), T.plusSeconds(i)));
        }
        Page<TaskState> first = table.page(null, 2, t -> true);
        assertEquals(List.of("t4", "t3"), ids(first));
        Page<TaskState> second = table.page(first.next(), 2, t -> true);
        assertEquals(List.of("t2", "t1"), ids(second));
        assertEquals(List.of("t0"), ids(table.page(second.next(), 2, t -> true)));
        assertNull(table.page(second.next(), 2, t -> true).next());
        assertEquals(List.of("t3", "t1"), ids(table.page(null, 10, t -> t.getStatus() == TaskStatus.RUNNING)));
    }

    @Test
    void theSweeperGetsTheOldestFinishedTasksOnly() {
        TaskTable table = new TaskTable();
        put(table, task("old-done", TaskStatus.SUCCEEDED, T, T.plusSeconds(1)));
        put(table, task("old-running", TaskStatus.RUNNING, T.plusSeconds(1), T.plusSeconds(1)));
        put(table, task("late-done", TaskStatus.FAILED, T.plusSeconds(2), T.plusSeconds(100)));
        put(table, task("new-done", TaskStatus.SUCCEEDED, T.plusSeconds(60), T.plusSeconds(61)));
        assertEquals(List.of("old-done"), table.finishedBefore(T.plusSeconds(50), 10));
        assertEquals(List.of("old-done", "late-done", "new-done"), table.finishedBefore(T.plusSeconds(200), 10));
        assertEquals(List.of("old-done"), table.finishedBefore(T.plusSeconds(200), 1));
    }

    @Test
    void aReservationHoldsItsIdUntilReleasedAndATombstoneTakesTheTaskOut() {
        TaskTable table = new TaskTable();
        TaskState pending = task(UUID.randomUUID().toString(), TaskStatus.PENDING, T, T);
        assertTrue(table.reserve(pending));
        assertFalse(table.reserve(pending));
        table.release(pending);
        assertTrue(table.get(pending.getId()).isEmpty());
        assertTrue(table.page(null, 10, t -> true).items().isEmpty());
        TaskState done = task(pending.getId(), TaskStatus.SUCCEEDED, T, T);
        put(table, done);
        assertEquals(done.getVolumeId(), table.remove(done.getId()));
        assertEquals(0, table.size());
        assertTrue(table.page(null, 10, t -> true).items().isEmpty());
    }
}
