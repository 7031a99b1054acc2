package io.storagebus.manager.events;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.Base64;
import java.util.Collection;
import java.util.Map;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericContainer;
import org.apache.avro.generic.IndexedRecord;

/**
 * An Avro record as plain JSON, for clients that do not speak Avro: the record's fields by their
 * Avro names; a union's value as itself (not wrapped in its branch's name, as Avro's own JSON
 * encoding does), enums by name, timestamps as milliseconds since the epoch (their Avro value),
 * bytes in base64. docs/EVENTS.md, "Events over HTTP", says the same to subscribers.
 */
public final class EventJson {
    private EventJson() {
    }

    /**
     * An event as the stream and {@code storagebus events tail --output json} give it: its full type
     * name, its Kafka key, the broker's timestamp and the record's fields.
     */
    public static JsonObject message(String key, long timestampMillis, IndexedRecord event) {
        return new JsonObject().put("type", event.getSchema().getFullName()).put("key", key)
                .put("timestamp", Instant.ofEpochMilli(timestampMillis).toString()).put("event", of(event));
    }

    public static JsonObject of(IndexedRecord record) {
        JsonObject json = new JsonObject();
        for (Schema.Field field : record.getSchema().getFields()) {
            json.put(field.name(), value(record.get(field.pos())));
        }
        return json;
    }

    private static Object value(Object value) {
        if (value == null || value instanceof Boolean || value instanceof Number) {
            return value;
        }
        if (value instanceof IndexedRecord record) {
            return of(record);
        }
        if (value instanceof Instant instant) {
            return instant.toEpochMilli();
        }
        if (value instanceof ByteBuffer bytes) {
            ByteBuffer copy = bytes.duplicate();
            byte[] raw = new byte[copy.remaining()];
            copy.get(raw);
            return Base64.getEncoder().encodeToString(raw);
        }
        if (value instanceof GenericContainer fixed) {
            return fixed.toString(); // a GenericFixed or an enum symbol
        }
        if (value instanceof Map<?, ?> map) {
            JsonObject json = new JsonObject();
            map.forEach((k, v) -> json.put(k.toString(), value(v)));
            return json;
        }
        if (value instanceof Collection<?> items) {
            JsonArray json = new JsonArray();
            items.forEach(v -> json.add(value(v)));
            return json;
        }
        return value.toString(); // strings (Utf8 or String), enums, UUIDs
    }
}
