package io.storagebus.system;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import io.storagebus.manager.Manager;
import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.Role;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The REST API over https (a self-signed certificate from keytool) with tokens, on an active and
 * a standby manager: plain http and clients that do not trust the certificate get nowhere; no token or a wrong one is 401,
 * a role that does not reach is 403 naming the role needed, each role does what it may; the
 * standby checks the token before it points a write at the active manager; the probes stay
 * open; the CLI sends its token and makes new ones.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApiSecurityIT {
    private static final Duration WAIT = Duration.ofSeconds(60);

    private Cluster cluster;
    private Manager standby;
    private Path tmp;
    private final String admin = ApiTokens.generate();
    private final String operator = ApiTokens.generate();
    private final String viewer = ApiTokens.generate();
    private String base;
    private TestTls tls;

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        tmp = dir;
        Path tokens = Files.writeString(dir.resolve("api-tokens"), String.join("\n", ApiTokens.line("root", Role.ADMIN, admin),
                ApiTokens.line("ops", Role.OPERATOR, operator), ApiTokens.line("dashboard", Role.VIEWER, viewer)) + "\n");
        tls = TestTls.create(dir);
        cluster = new Cluster(new InProcessKafka(dir.resolve("kafka")), dir);
        cluster.startWorker("host-1");
        Manager active = cluster.startManager("manager-1", c -> c.withApiTokens(tokens).withTls(keyStore()));
        cluster.manager = active;
        standby = cluster.startManager("manager-2", c -> c.withApiTokens(tokens).withTls(keyStore()));
        base = active.baseUrl();
        assertTrue(base.startsWith("https://"), base);
        await().atMost(WAIT).until(() -> http(viewer).get("/api/v1/health").status() == 200);
    }

    private io.storagebus.manager.security.TlsKeyStore keyStore() {
        try {
            return tls.keyStore();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A client of the active manager that trusts its certificate and sends {@code token} (null: none). */
    private Http http(String token) throws Exception {
        return new Http(base, token, tls.clientContext());
    }

    private Http http(String url, String token) throws Exception {
        return new Http(url, token, tls.clientContext());
    }

    /** Tokens are revoked by editing the file: no restart, and the very next request is refused. */
    @Test
    void aTokenAddedToTheFileWorksAndOneTakenOutStopsWorkingWithoutARestart() throws Exception {
        Path tokens = tmp.resolve("api-tokens");
        String before = Files.readString(tokens);
        String temporary = ApiTokens.generate();
        try {
            Files.writeString(tokens, before + ApiTokens.line("temp", Role.VIEWER, temporary) + "\n");
            assertEquals(200, http(temporary).get("/api/v1/domains").status(), "a new line works at once");
            Files.writeString(tokens, before);
            assertEquals(401, http(temporary).get("/api/v1/domains").status(), "a removed line is refused at once");
            assertEquals(200, http(viewer).get("/api/v1/domains").status(), "the other tokens stay");
        } finally {
            Files.writeString(tokens, before);
        }
    }

    @Test
    void plainHttpAndClientsThatDoNotTrustTheCertificateGetNowhere() throws Exception {
        String plain = base.replace("https://", "http://");
        assertThrows(AssertionError.class, () -> new Http(plain, admin).get("/api/v1/domains"), "no plain http on the TLS port");
        assertThrows(AssertionError.class, () -> new Http(base, admin, null).get("/api/v1/domains"), "the JDK's trust alone refuses a self-signed manager");
        assertEquals(200, http(admin).get("/api/v1/domains").status());
    }

    @AfterAll
    void stop() throws Exception {
        Closing.all(standby, cluster);
    }

    @Test
    void withoutAValidTokenEveryCallIs401AndTheProbesStayOpen() throws Exception {
        Http.Response none = http(null).get("/api/v1/domains");
        assertEquals(401, none.status(), none.body());
        assertEquals("UNAUTHENTICATED", none.json().getString("code"));
        assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"), none.headers().toString());
        assertEquals(401, http(ApiTokens.generate()).get("/api/v1/domains").status(), "a token nobody was given");
        assertEquals(401, http(admin + "x").post("/api/v1/domains", new JsonObject()).status());
        Http.Response unknownPath = http(null).get("/api/v1/nothing-here");
        assertEquals(401, unknownPath.status(), "who asks comes before what exists");

        Http open = http(null);
        assertEquals(200, open.get("/health/live").status());
        assertEquals(200, open.get("/health/ready").status());
        assertEquals(200, open.get("/metrics").status());
    }

    @Test
    void eachRoleDoesWhatItMayAndA403NamesTheRoleNeeded() throws Exception {
        JsonObject domain = new JsonObject().put("name", "secured").put("driver", "file")
                .put("properties", new JsonObject().put("path", Files.createDirectories(tmp.resolve("secured")).toString()));
        Http.Response byViewer = http(viewer).post("/api/v1/domains", domain);
        assertEquals(403, byViewer.status(), byViewer.body());
        assertEquals("FORBIDDEN", byViewer.json().getString("code"));
        assertEquals("admin", byViewer.json().getString("requiredRole"));
        assertTrue(byViewer.json().getString("message").contains("'dashboard' is a viewer"), byViewer.body());
        Http.Response byOperator = http(operator).post("/api/v1/domains", domain);
        assertEquals(403, byOperator.status(), "domains are an admin's");
        assertTrue(byOperator.json().getString("message").contains("'ops' is an operator") && byOperator.json().getString("message")
                .endsWith("needs an admin"), byOperator.body());
        assertEquals(403, http(operator).post("/api/v1/state/accept-loss", "").status(), "accepting a loss of state is an admin's");

        Http.Response created = http(admin).post("/api/v1/domains", domain);
        assertEquals(201, created.status(), created.body());
        String domainId = created.json().getString("id");
        assertEquals(200, http(viewer).get("/api/v1/domains/" + domainId).status());

        JsonObject volume = new JsonObject().put("name", "v1").put("virtualSize", 1 << 20);
        Http.Response volumeByViewer = http(viewer).post("/api/v1/domains/" + domainId + "/volumes", volume);
        assertEquals(403, volumeByViewer.status());
        assertEquals("operator", volumeByViewer.json().getString("requiredRole"));
        Http.Response volumeByOperator = http(operator).post("/api/v1/domains/" + domainId + "/volumes", volume);
        assertEquals(202, volumeByOperator.status(), volumeByOperator.body());
        String taskId = volumeByOperator.json().getString("taskId");
        await().atMost(WAIT).until(() -> "SUCCEEDED".equals(http(viewer).get("/api/v1/tasks/" + taskId).json().getString("status")));
        assertEquals(403, http(operator).post("/api/v1/pools/default/spm/release", new JsonObject()).status(),
                "moving the SPM role is an admin's");
    }

    @Test
    void theStandbyChecksTheTokenBeforePointingAtTheActiveManager() throws Exception {
        String standbyBase = standby.baseUrl();
        assertFalse(standby.isActive());
        assertEquals(401, http(standbyBase, null).post("/api/v1/domains", new JsonObject()).status(),
                "a stranger learns nothing, not even where the active manager is");
        assertEquals(403, http(standbyBase, viewer).post("/api/v1/domains", new JsonObject()).status());
        Http.Response redirected = http(standbyBase, admin).post("/api/v1/domains", new JsonObject());
        assertEquals(307, redirected.status(), redirected.body());
        assertEquals(200, http(standbyBase, viewer).get("/api/v1/domains").status(), "a standby answers reads");
    }

    @Test
    void theCliSendsItsTokenAndMakesNewOnes() throws Exception {
        String url = "--url=" + base;
        CliRun untrusting = CliRun.of("domains", "list", url, "--token", viewer);
        assertEquals(1, untrusting.exit(), "without --ca-file the self-signed manager is not trusted");
        String ca = "--ca-file=" + tls.certificate();
        CliRun refused = CliRun.of("domains", "list", url, ca);
        assertEquals(1, refused.exit());
        assertTrue(refused.err().contains("401 UNAUTHENTICATED"), refused.err());
        CliRun listed = CliRun.of("domains", "list", url, ca, "--token", viewer);
        assertEquals(0, listed.exit(), listed.err());
        CliRun forbidden = CliRun.of("spm", "release", url, ca, "--token", viewer);
        assertEquals(1, forbidden.exit());
        assertTrue(forbidden.err().contains("403 FORBIDDEN") && forbidden.err().contains("needs an admin"), forbidden.err());

        CliRun made = CliRun.of("tokens", "create", "--name", "ci-bot", "--role", "operator", "--output", "json");
        assertEquals(0, made.exit(), made.err());
        JsonObject token = new JsonObject(made.out());
        Path file = Files.writeString(tmp.resolve("more-tokens"), token.getString("line") + "\n");
        assertEquals(Role.OPERATOR, ApiTokens.load(file).authenticate(token.getString("token")).orElseThrow().role());
        assertFalse(token.getString("line").contains(token.getString("token")), "the line holds the hash only");
        assertEquals(2, CliRun.of("tokens", "create", "--name", "x", "--role", "root").exit());
    }
}
