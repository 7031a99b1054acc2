package io.storagebus.dist.cli;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The REST API as the CLI sees it: the first of the given managers that answers, with 307s from
 * a standby followed to the active manager, and error answers turned into their message.
 */
final class ApiClient {
    /** The API refused or failed the request; the message is the API's own. */
    static final class ApiException extends Exception {
        private final transient JsonObject body;
        private final String output;

        ApiException(String message, JsonObject body, String output) {
            super(message);
            this.body = body;
            this.output = output;
        }

        JsonObject body() {
            return body;
        }

        String output() {
            return output;
        }
    }

    private final List<String> bases;
    private final String output;
    private final String token;
    private final HttpClient client;
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    ApiClient(String urls, String output, String token) {
        this(urls, output, token, null);
    }

    /** {@code caFile}: PEM certificates to trust for https besides the JDK's (a private CA, a self-signed manager); null: the JDK's only. */
    ApiClient(String urls, String output, String token, java.nio.file.Path caFile) {
        // A busy manager (or its host) may take seconds to accept; a manager that is down refuses at once, so the next URL is
        // still tried without waiting this out.
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).followRedirects(HttpClient.Redirect.NORMAL);
        if (caFile != null) {
            builder.sslContext(trusting(caFile));
        }
        this.client = builder.build();
        this.bases = List.of(urls.split(",")).stream().map(String::strip).map(u -> u.endsWith("/") ? u.substring(0, u.length() - 1) : u).toList();
        this.output = output;
        this.token = token;
    }

    private static javax.net.ssl.SSLContext trusting(java.nio.file.Path caFile) {
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(caFile)) {
            java.security.KeyStore trust = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
            trust.load(null, null);
            int i = 0;
            for (java.security.cert.Certificate c : java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca-" + i++, c);
            }
            if (i == 0) {
                throw new IllegalArgumentException(caFile + " holds no PEM certificate");
            }
            javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
            context.init(null, tmf.getTrustManagers(), null);
            return context;
        } catch (java.io.IOException | java.security.GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read the certificates in " + caFile + ": " + e.getMessage(), e);
        }
    }

    Object get(String path) throws Exception {
        return send(path, b -> b.GET());
    }

    /** Every item of a list the API answers a page at a time: follows each {@code Link: <...>; rel="next"}. */
    JsonArray getAll(String path) throws Exception {
        JsonArray all = new JsonArray();
        for (String next = path; next != null; ) {
            Answer page = exchange(next, b -> b.GET());
            ((JsonArray) page.json()).forEach(all::add);
            next = page.next();
        }
        return all;
    }

    Object post(String path, JsonObject body) throws Exception {
        return send(path, b -> b.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.encode())));
    }

    /**
     * A create sent with an Idempotency-Key and sent again, with the same key, when its outcome is
     * unknown (no answer, or 503: Kafka did not confirm, no manager active yet): the manager makes
     * it once however many times it arrives.
     */
    Object postOnce(String path, JsonObject body) throws Exception {
        String key = java.util.UUID.randomUUID().toString();
        for (int attempt = 1; ; attempt++) {
            try {
                return send(path, b -> b.header("Content-Type", "application/json").header("Idempotency-Key", key)
                        .POST(HttpRequest.BodyPublishers.ofString(body.encode())));
            } catch (ApiException e) {
                if (attempt == SEND_ATTEMPTS || !RETRIABLE.contains(e.body().getString("code", ""))) {
                    throw e;
                }
            } catch (java.net.http.HttpTimeoutException e) {
                if (attempt == SEND_ATTEMPTS) {
                    throw e;
                }
            }
            // The managers' own Retry-After, on a timer; a CLI has nothing else to do meanwhile.
            java.util.concurrent.CompletableFuture.runAsync(() -> { },
                    java.util.concurrent.CompletableFuture.delayedExecutor(RETRY_AFTER.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)).join();
        }
    }

    private static final int SEND_ATTEMPTS = 5;
    private static final Duration RETRY_AFTER = Duration.ofSeconds(2);
    private static final java.util.Set<String> RETRIABLE = java.util.Set.of("OUTCOME_UNKNOWN", "UNAVAILABLE", "NO_ACTIVE_MANAGER");

    Object put(String path, JsonObject body) throws Exception {
        return send(path, b -> b.header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(body.encode())));
    }

    Object patch(String path, JsonObject body) throws Exception {
        return send(path, b -> b.header("Content-Type", "application/json").method("PATCH", HttpRequest.BodyPublishers.ofString(body.encode())));
    }

    Object delete(String path) throws Exception {
        return send(path, HttpRequest.Builder::DELETE);
    }

    /** An answer's body, and the path of the next page of a list when there is one. */
    private record Answer(Object json, String next) {
    }

    private static final java.util.regex.Pattern NEXT = java.util.regex.Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"next\"");

    private Object send(String path, java.util.function.UnaryOperator<HttpRequest.Builder> method) throws Exception {
        return exchange(path, method).json();
    }

    private Answer exchange(String path, java.util.function.UnaryOperator<HttpRequest.Builder> method) throws Exception {
        IOException unreachable = null;
        for (String base : bases) {
            HttpResponse<String> response;
            try {
                HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
                if (token != null) {
                    request.header("Authorization", "Bearer " + token);
                }
                response = client.send(method.apply(request).build(), HttpResponse.BodyHandlers.ofString());
            } catch (ConnectException e) {
                unreachable = e;
                continue;
            }
            Object json = parse(response.body());
            if (response.statusCode() >= 300) {
                JsonObject error = json instanceof JsonObject o ? o : new JsonObject();
                String field = error.getString("field");
                throw new ApiException(response.statusCode() + " " + error.getString("code", "ERROR") + ": "
                        + error.getString("message", response.body()) + (field == null ? "" : " (field: " + field + ")"), error, output);
            }
            java.util.regex.Matcher next = NEXT.matcher(response.headers().firstValue("Link").orElse(""));
            return new Answer(json, next.find() ? next.group(1) : null);
        }
        throw new IOException("no manager answered at " + String.join(", ", bases)
                + (unreachable == null ? "" : " (" + unreachable.getClass().getSimpleName() + ")"));
    }

    private static Object parse(String body) {
        try {
            return body == null || body.isBlank() ? new JsonObject() : Json.decodeValue(body);
        } catch (DecodeException e) {
            return new JsonObject().put("message", body);
        }
    }
}
