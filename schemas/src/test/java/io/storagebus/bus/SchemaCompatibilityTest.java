package io.storagebus.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.List;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Subscribers in other services upgrade on their own schedule, so every schema change must stay
 * readable: the current schema reads every released version (backward), and every released
 * reader still reads what the current writer produces (forward).
 */
class SchemaCompatibilityTest {

    static Stream<Class<? extends SpecificRecord>> types() {
        return MessageTypes.ALL.stream();
    }

    @ParameterizedTest
    @MethodSource("types")
    void currentSchemaIsReleased(Class<? extends SpecificRecord> type) {
        Schema current = MessageTypes.schemaOf(type);
        List<Schema> history = MessageTypes.history(current);
        assertFalse(history.isEmpty(), "no released version of " + current.getName());
        Schema newest = history.get(history.size() - 1);
        assertEquals(SchemaNormalization.parsingFingerprint64(newest), SchemaNormalization.parsingFingerprint64(current),
                current.getName() + " changed: check compatibility, then save the current schema as "
                        + "schemas/src/main/resources/io/storagebus/schema/history/" + current.getName()
                        + "/v" + (history.size() + 1) + ".avsc:\n" + current.toString(true));
    }

    @ParameterizedTest
    @MethodSource("types")
    void everyVersionReadsAndIsReadByThoseBefore(Class<? extends SpecificRecord> type) {
        Schema current = MessageTypes.schemaOf(type);
        List<Schema> history = MessageTypes.history(current);
        for (Schema old : history) {
            assertCompatible(current, old, "current " + current.getName() + " reading a released version");
            assertCompatible(old, current, "a released " + current.getName() + " reader reading the current version");
        }
    }

    private static void assertCompatible(Schema reader, Schema writer, String what) {
        var result = SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
        assertEquals(SchemaCompatibilityType.COMPATIBLE, result.getType(), what + ": " + result.getDescription());
    }
}
