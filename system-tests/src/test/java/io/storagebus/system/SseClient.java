package io.storagebus.system;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import io.vertx.core.json.JsonObject;

/** A client of {@code GET /api/v1/events} as a browser's EventSource reads it: the events it got, in order. */
final class SseClient implements AutoCloseable {
    /** One server-sent event: its {@code event:} name ("message" when none), {@code id:} and {@code data:}. */
    record Event(String name, String id, String data) {
        JsonObject json() {
            return new JsonObject(data);
        }

        /** The Avro record's fields, for a StorageBus event. */
        JsonObject event() {
            return json().getJsonObject("event");
        }
    }

    final int status;
    final List<Event> events = new CopyOnWriteArrayList<>();
    final String errorBody;
    private final Thread reader;
    private final java.io.InputStream body;
    private volatile boolean ended;

    private SseClient(HttpResponse<java.io.InputStream> response) {
        this.status = response.statusCode();
        this.body = response.body();
        if (status != 200) {
            try (body) {
                errorBody = new String(body.readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            reader = null;
            ended = true;
            return;
        }
        errorBody = null;
        reader = new Thread(this::read, "sse-client");
        reader.setDaemon(true);
        reader.start();
    }

    /** Connects with these headers (Authorization, Last-Event-ID); answers once the status is known. */
    static SseClient connect(String url, Map<String, String> headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).GET().header("Accept", "text/event-stream");
        headers.forEach(request::header);
        HttpResponse<java.io.InputStream> response = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
                .sendAsync(request.build(), HttpResponse.BodyHandlers.ofInputStream()).get(30, TimeUnit.SECONDS);
        return new SseClient(response);
    }

    private void read() {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
            String name = "message";
            String id = null;
            StringBuilder data = null;
            for (String line; (line = lines.readLine()) != null; ) {
                if (line.isEmpty()) {
                    if (data != null) {
                        events.add(new Event(name, id, data.toString()));
                    }
                    name = "message";
                    data = null;
                } else if (line.startsWith("event: ")) {
                    name = line.substring(7);
                } else if (line.startsWith("id: ")) {
                    id = line.substring(4);
                } else if (line.startsWith("data: ")) {
                    data = data == null ? new StringBuilder(line.substring(6)) : data.append('\n').append(line.substring(6));
                }
            }
        } catch (java.io.IOException e) {
            // the connection closed under the reader
        } finally {
            ended = true;
        }
    }

    /** Whether the server ended the stream (or it never began). */
    boolean ended() {
        return ended;
    }

    /** The StorageBus events received, without control events. */
    List<Event> storageEvents() {
        return events.stream().filter(e -> e.name().equals("message")).toList();
    }

    /** The id of the last event received: what a reconnecting client sends as Last-Event-ID. */
    String lastEventId() {
        List<Event> got = storageEvents();
        return got.isEmpty() ? null : got.get(got.size() - 1).id();
    }

    @Override
    public void close() throws Exception {
        body.close();
        if (reader != null) {
            reader.join(5_000);
        }
    }
}
