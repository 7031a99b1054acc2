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

    /** The fingerprint's test vector is what Avro computes, and the JavaScript given for it computes the same. */
    @Test
    void theFingerprintAlgorithmAndItsTestVectorAreRight() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "EVENTS.md"));
        Schema heartbeat = MessageTypes.history(io.storagebus.schema.SubscriberHeartbeat.getClassSchema()).get(0);
        String canonical = SchemaNormalization.toParsingForm(heartbeat);
        String fingerprint = String.format("%016x", SchemaNormalization.parsingFingerprint64(heartbeat));
        assertTrue(doc.contains("\n" + canonical + "\n"), "docs/EVENTS.md's canonical form of SubscriberHeartbeat v1 is not Avro's: " + canonical);
        assertTrue(doc.contains("and the fingerprint `" + fingerprint + "`"), fingerprint);
        assertTrue(doc.contains("`\"int\"`, fingerprint\n`" + String.format("%016x", SchemaNormalization.parsingFingerprint64(Schema.create(Schema.Type.INT))) + "`"));

        String js = doc.substring(doc.indexOf("```js\n") + 6, doc.indexOf("```", doc.indexOf("```js\n") + 6));
        Path script = Files.createTempFile("fingerprint", ".js");
        Files.writeString(script, js + "\nconsole.log(fingerprint64(process.argv[2]).toString(16).padStart(16, '0'));\n");
        Process node;
        try {
            node = new ProcessBuilder("node", script.toString(), canonical).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            org.junit.jupiter.api.Assumptions.abort("node is not installed, so the JavaScript in docs/EVENTS.md was not run: " + e.getMessage());
            return;
        } finally {
            script.toFile().deleteOnExit();
        }
        String printed = new String(node.getInputStream().readAllBytes()).strip();
        assertTrue(node.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
        org.junit.jupiter.api.Assertions.assertEquals(fingerprint, printed, "the JavaScript in docs/EVENTS.md");
    }

    /** Subscribers set the issuer from the schema's doc or from EVENTS.md: both must say the same. */
    @Test
    void theIssuerIsDocumentedAlikeInTheSchemaAndTheDocs() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "EVENTS.md"));
        String schemaDoc = io.storagebus.schema.Envelope.getClassSchema().getField("issuer").doc();
        for (String form : java.util.List.of("manager:<", "host:<hostId>", "subscriber:<subscriberId>")) {
            assertTrue(schemaDoc.contains(form), "Envelope.avsc's issuer doc lacks " + form + ": " + schemaDoc);
            assertTrue(doc.contains("`" + form), "docs/EVENTS.md lacks the issuer form " + form);
        }
    }
}
