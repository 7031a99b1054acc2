package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import io.storagebus.manager.Manager;
import io.storagebus.manager.api.RestApi;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.json.schema.OutputUnit;
import io.vertx.openapi.contract.MediaType;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.contract.Operation;
import io.vertx.openapi.mediatype.ContentAnalyser;
import io.vertx.openapi.mediatype.MediaTypeRegistration;
import io.vertx.openapi.mediatype.MediaTypeRegistry;
import io.vertx.openapi.validation.ValidationContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /api/v1/openapi.json} against a running manager: a valid OpenAPI 3.1 document (as
 * Vert.x's contract parser reads it), naming exactly the routes the manager serves, each with the
 * role its access control asks, and every example in it valid against its schema.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenApiIT {
    private Cluster cluster;
    private Manager manager;
    private Http http;
    private Vertx vertx;
    private OpenAPIContract contract;
    /** The document as served: the parser's model adds its own keys to every object, examples too. */
    private JsonObject document;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        manager = cluster.startManager();
        http = new Http(manager.baseUrl());
        vertx = Vertx.vertx();
        Http.Response served = http.get("/api/v1/openapi.json");
        assertEquals(200, served.status(), "served without a token: " + served.body());
        document = new JsonObject(served.body());
        contract = OpenAPIContract.builder(vertx).setContract(document.copy())
                .mediaTypeRegistry(MediaTypeRegistry.createDefault().register(new EventStreamMediaType()))
                .build().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @AfterAll
    void stop() throws Exception {
        if (vertx != null) {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
        Closing.all(cluster);
    }

    @Test
    void theDocumentNamesEveryRouteTheManagerServesAndNoOther() {
        TreeSet<String> documented = new TreeSet<>();
        contract.operations().forEach(o -> documented.add(o.getHttpMethod().name() + " " + o.getOpenAPIPath()));
        TreeSet<String> served = new TreeSet<>(manager.routes());
        TreeSet<String> undocumented = new TreeSet<>(served);
        undocumented.removeAll(documented);
        TreeSet<String> unserved = new TreeSet<>(documented);
        unserved.removeAll(served);
        assertEquals(List.of(), List.copyOf(undocumented), "routes the document lacks");
        assertEquals(List.of(), List.copyOf(unserved), "documented routes the manager does not serve");
    }

    @Test
    void eachOperationSaysTheRoleItsRouteAsks() {
        for (Operation o : contract.operations()) {
            String role = o.getOpenAPIModel().getString("x-storagebus-role");
            String path = o.getOpenAPIPath().replaceAll("\\{[A-Za-z]+}", "x");
            String expected = !path.startsWith("/api/") || path.equals("/api/v1/openapi.json") ? "public"
                    : RestApi.requiredRole(o.getHttpMethod(), path);
            assertEquals(expected, role, o.getHttpMethod() + " " + o.getOpenAPIPath());
        }
    }

    @Test
    void everyExampleIsValidAgainstItsSchema() {
        List<String> invalid = new ArrayList<>();
        int checked = 0;
        for (Operation o : contract.operations()) {
            JsonObject raw = document.getJsonObject("paths").getJsonObject(o.getOpenAPIPath())
                    .getJsonObject(o.getHttpMethod().name().toLowerCase(java.util.Locale.ROOT));
            if (o.getRequestBody() != null) {
                checked += check(o.getOperationId() + " request", o.getRequestBody().getContent(),
                        raw.getJsonObject("requestBody").getJsonObject("content"), invalid);
            }
            JsonObject responses = raw.getJsonObject("responses");
            for (String code : responses.fieldNames()) {
                var response = o.getResponse(Integer.parseInt(code));
                JsonObject content = resolve(responses.getJsonObject(code)).getJsonObject("content");
                if (response != null && content != null) {
                    checked += check(o.getOperationId() + " " + code, response.getContent(), content, invalid);
                }
            }
        }
        assertEquals(List.of(), invalid);
        assertTrue(checked > 60, "examples checked: " + checked);
    }

    /** A response by reference, as the document's components hold it. */
    private JsonObject resolve(JsonObject response) {
        String ref = response.getString("$ref");
        return ref == null ? response : document.getJsonObject("components").getJsonObject("responses")
                .getJsonObject(ref.substring(ref.lastIndexOf('/') + 1));
    }

    private int check(String where, Map<String, MediaType> types, JsonObject rawContent, List<String> invalid) {
        int checked = 0;
        for (Map.Entry<String, MediaType> type : types.entrySet()) {
            JsonObject raw = rawContent.getJsonObject(type.getKey());
            if (raw == null || !raw.containsKey("example") || !type.getKey().startsWith("application/json")) {
                continue;
            }
            OutputUnit result = contract.getSchemaRepository().validator(type.getValue().getSchema()).validate(raw.getValue("example"));
            if (!result.getValid()) {
                invalid.add(where + ": " + result.getErrors());
            }
            checked++;
        }
        return checked;
    }

    /** text/event-stream, which Vert.x's contract parser does not know: a stream, not a body it could validate. */
    private static final class EventStreamMediaType implements MediaTypeRegistration {
        @Override
        public ContentAnalyser createContentAnalyser(String contentType, Buffer content, ValidationContext context) {
            throw new UnsupportedOperationException("an event stream is not validated as a body");
        }

        @Override
        public boolean canHandle(String mediaType) {
            return mediaType.startsWith("text/event-stream");
        }

        @Override
        public List<String> supportedTypes() {
            return List.of("text/event-stream");
        }
    }
}
