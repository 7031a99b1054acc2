package io.storagebus.system;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** A small JSON client for the REST API. */
final class Http {
    record Response(int status, String body, String contentType, java.net.http.HttpHeaders headers) {
        String header(String name) {
            return headers.firstValue(name).orElse(null);
        }

        JsonObject json() {
            return new JsonObject(body);
        }

        JsonArray array() {
            return new JsonArray(body);
        }
    }

    private final HttpClient client;
    private final String base;

    private final String token;

    Http(String base) {
        this(base, null);
    }

    /** A client that sends {@code Authorization: Bearer token} with every request. */
    Http(String base, String token) {
        this(base, token, null);
    }

    /** ... and, for https, trusts what {@code tls} trusts (null: the JDK's defaults). */
    Http(String base, String token, javax.net.ssl.SSLContext tls) {
        this.base = base;
        this.token = token;
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
        if (tls != null) {
            builder.sslContext(tls);
        }
        this.client = builder.build();
    }

    String base() {
        return base;
    }

    Response get(String path) {
        return send(HttpRequest.newBuilder(URI.create(base + path)).GET());
    }

    /** Every item of a paged list: follows each {@code Link: <...>; rel="next"} to the end. */
    io.vertx.core.json.JsonArray getAll(String path) {
        io.vertx.core.json.JsonArray all = new io.vertx.core.json.JsonArray();
        for (String next = path; next != null; ) {
            Response page = get(next);
            if (page.status() != 200) {
                throw new AssertionError("GET " + next + ": " + page.status() + " " + page.body());
            }
            page.array().forEach(all::add);
            String link = page.header("Link");
            next = link == null ? null : link.substring(link.indexOf('<') + 1, link.indexOf('>'));
        }
        return all;
    }

    Response post(String path, String body) {
        return send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    Response post(String path, JsonObject body) {
        return post(path, body.encode());
    }

    /** A POST naming itself with an {@code Idempotency-Key}. */
    Response post(String path, JsonObject body, String idempotencyKey) {
        return send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", "application/json").header("Idempotency-Key", idempotencyKey)
                .POST(HttpRequest.BodyPublishers.ofString(body.encode())));
    }

    Response put(String path, JsonObject body) {
        return send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(body.encode())));
    }

    Response patch(String path, JsonObject body) {
        return send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(body.encode())));
    }

    Response delete(String path) {
        return send(HttpRequest.newBuilder(URI.create(base + path)).DELETE());
    }

    private Response send(HttpRequest.Builder request) {
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        try {
            HttpResponse<String> r = client.send(request.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.body(), r.headers().firstValue("Content-Type").orElse(""), r.headers());
        } catch (Exception e) {
            throw new AssertionError("request failed: " + e, e);
        }
    }
}
