package io.storagebus.bus;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;

/**
 * docs/EVENTS.md is what subscribers in other languages build against: its fingerprint table
 * must name every released version of every message type, so a schema change cannot leave it stale.
 */
class EventsDocTest {

    @Test
    void fingerprintTableListsEveryReleasedVersion() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "EVENTS.md"));
        for (Class<? extends SpecificRecord> type : MessageTypes.ALL) {
            Schema current = MessageTypes.schemaOf(type);
            List<Schema> history = MessageTypes.history(current);
            for (int v = 0; v < history.size(); v++) {
                String row = String.format("| `%s` | v%d | `%016x` |", current.getFullName(), v + 1,
                        SchemaNormalization.parsingFingerprint64(history.get(v)));
                assertTrue(doc.contains(row), "docs/EVENTS.md lacks the row " + row);
            }
        }
    }
}
