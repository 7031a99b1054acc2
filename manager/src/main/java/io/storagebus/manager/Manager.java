package io.storagebus.manager;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.storagebus.bus.Envelopes;
import io.storagebus.bus.KafkaClients;
import io.storagebus.bus.Topics;
import io.storagebus.driver.DriverRegistry;
import io.storagebus.leases.HostDirectory;
import io.storagebus.leases.LeaseDirectory;
import io.storagebus.leases.SpmDirectory;
import io.storagebus.leases.SpmTerm;
import io.storagebus.lifecycle.Lifecycle;
import io.storagebus.manager.api.RestApi;
import io.storagebus.manager.backup.BackupScheduler;
import io.storagebus.manager.requests.Requests;
import io.storagebus.manager.state.TaskSweeper;
import io.storagebus.manager.state.TrashSweeper;
import io.storagebus.manager.requests.Origin;
import io.storagebus.manager.security.TokensFile;
import io.storagebus.manager.bus.DeadLetters;
import io.storagebus.manager.bus.PoolTopics;
import io.storagebus.manager.bus.StorageChecks;
import io.storagebus.manager.events.EventStream;
import io.storagebus.manager.ha.ActiveRole;
import io.storagebus.manager.ha.ManagerElection;
import io.storagebus.manager.maintenance.SubscriberRegistry;
import io.storagebus.manager.state.StateHistory;
import io.storagebus.manager.state.StateView;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.KeyStoreOptions;
import io.vertx.ext.web.Router;
import org.apache.curator.framework.CuratorFramework;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager process: state view, SPM directory and the REST API on every manager; the command
 * bus and the maintenance coordinator only on the active one, which a ZooKeeper election picks.
 */
public final class Manager implements AutoCloseable {
    private static final long HISTORY_CHECK_MILLIS = 30_000;
    private static final Logger LOG = LoggerFactory.getLogger(Manager.class);

    private final ManagerConfig config;
    private final Lifecycle lifecycle = new Lifecycle("manager");
    private Vertx vertx;
    private Admin admin;
    private CuratorFramework zk;
    private SpmDirectory spms;
    private HostDirectory hosts;
    private LeaseDirectory leases;
    private StateView view;
    private DeadLetters deadLetters;
    private SubscriberRegistry subscribers;
    private ActiveRole role;
    private ManagerElection election;
    private HttpServer http;
    private StorageChecks storageChecks;
    private EventStream events;
    private Router router;

    public Manager(ManagerConfig config) {
        this.config = config;
    }

    public Manager start() throws Exception {
        lifecycle.start();
        admin = KafkaClients.admin(config.kafka());
        List<NewTopic> topics = new ArrayList<>(Topics.shared(config.topicReplication()));
        topics.addAll(Topics.poolTopics(config.defaultPool(), config.topicReplication()));
        Topics.ensure(admin, topics);

        zk = config.zooKeeper().connect();
        spms = new SpmDirectory(zk);
        spms.start();
        hosts = new HostDirectory(zk);
        hosts.start();
        leases = new LeaseDirectory(zk);
        leases.start();

        view = new StateView(config.kafka());
        view.start();
        deadLetters = new DeadLetters(config.kafka(), config.managerId());
        subscribers = new SubscriberRegistry(config.kafka(), deadLetters);
        subscribers.start();
        view.caughtUp().get(60, TimeUnit.SECONDS);
        subscribers.caughtUp().get(60, TimeUnit.SECONDS);
        StateHistory history = new StateHistory(zk, admin);
        history.check();

        vertx = Vertx.vertx();
        // Raises ZooKeeper's mark as the state grows, and notices a Kafka that lost it while this manager runs.
        vertx.setPeriodic(HISTORY_CHECK_MILLIS, t -> vertx.executeBlocking(() -> {
            history.check();
            return null;
        }, false).onFailure(e -> LOG.warn("cannot compare the state topics with ZooKeeper's mark: {}", e.toString())));
        role = new ActiveRole(vertx, config.managerId(), config.kafka(), view, subscribers, hosts, deadLetters, config.signer());
        DriverRegistry drivers = DriverRegistry.load();
        HealthCheck health = new HealthCheck(vertx, admin, zk, view, spms, config.defaultPool(), role, history);
        storageChecks = new StorageChecks(vertx, config.kafka());
        storageChecks.start();
        Requests requests = Requests.of(new Requests.Parts(vertx, config, view, role, drivers, leases, hosts, spms, storageChecks,
                new PoolTopics(vertx, admin, config.topicReplication())));
        events = new EventStream(vertx, config.kafka(), EventStream.DEFAULT_CAPACITY);
        events.start();
        events.started().get(60, TimeUnit.SECONDS);
        RestApi api = new RestApi(vertx, config, requests, role, drivers, health, zk, spms, hosts, leases, subscribers, apiTokens(), history,
                events);
        role.drainWith(requests.volumes()::drainMove);
        role.runWhileActive(new BackupScheduler(vertx, view, requests.policies().scheduled(config.managerId()), Clock.systemUTC()));
        role.runWhileActive(new TaskSweeper(vertx, view, role, config.taskRetention(), Clock.systemUTC()));
        Origin trashOrigin = (pool, correlationId) -> Envelopes.origin(pool, "manager:" + config.managerId() + ":trash", correlationId);
        role.runWhileActive(new TrashSweeper(vertx, view, role, config.trashRetention(), Clock.systemUTC(),
                v -> requests.volumes().purge(v.getId(), false, trashOrigin)));
        router = api.router();
        http = vertx.createHttpServer(httpOptions()).requestHandler(router).invalidRequestHandler(RestApi::invalidRequest)
                .listen(config.httpPort(), config.httpHost())
                .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        LOG.info("manager {} serving http://{}:{}", config.managerId(), config.httpHost(), http.actualPort());

        // Stand for election once the API answers, so a standby serves reads from the start.
        election = new ManagerElection(zk, config.managerId(), advertisedUrl(), role);
        role.electedBy(election);
        election.start();
        election.settled().get(60, TimeUnit.SECONDS);
        LOG.info("manager {} is {}", config.managerId(), role.isActive() ? "active" : "standby");
        return this;
    }

    /** https with the configured keystore; plain http (warned of) without one. */
    private HttpServerOptions httpOptions() {
        if (config.tls() == null) {
            LOG.warn("the REST API is plain http: tokens and data cross the network readable (dev mode and tests only)");
            return new HttpServerOptions();
        }
        return new HttpServerOptions().setSsl(true).setKeyCertOptions(new KeyStoreOptions().setType("PKCS12")
                .setPath(config.tls().keystore().toString()).setPassword(config.tls().password()));
    }

    /** The REST API's tokens; without a file, none are asked for, and the log says so loudly. */
    private TokensFile apiTokens() throws java.io.IOException {
        if (config.apiTokensFile() == null) {
            LOG.warn("the REST API asks for no tokens: anyone who reaches {}:{} may call it (dev mode and tests only)",
                    config.httpHost(), config.httpPort());
            return null;
        }
        TokensFile tokens = TokensFile.load(config.apiTokensFile());
        LOG.info("the REST API asks for bearer tokens: {} known, from {} (read again when it changes)", tokens.size(), config.apiTokensFile());
        return tokens;
    }

    private String advertisedUrl() {
        return config.advertisedUrl() != null ? config.advertisedUrl() : baseUrl();
    }

    /** Whether this manager takes writes now. */
    public boolean isActive() {
        return role.isActive();
    }

    /** The manager election, for whoever wants to know who is active. */
    public ManagerElection election() {
        return election;
    }

    /**
     * Completes when the manager can serve its default pool: its state view is current (it is
     * before {@link #start()} returns) and the pool has an SPM, as the SPM directory's ZooKeeper
     * watch reports. An event to wait on, instead of polling the health endpoint.
     */
    public CompletableFuture<SpmTerm> defaultPoolReady() {
        return spms.nextTerm(config.defaultPool(), 0);
    }

    public int httpPort() {
        return http.actualPort();
    }

    /** The REST routes this manager serves, as {@code METHOD /path/{param}}. */
    public List<String> routes() {
        return RestApi.routes(router);
    }

    public String baseUrl() {
        return (config.tls() == null ? "http://" : "https://") + config.httpHost() + ":" + httpPort();
    }

    @Override
    public void close() {
        if (!lifecycle.close()) {
            return;
        }
        if (election != null) {
            election.close();
        }
        if (storageChecks != null) {
            storageChecks.close();
        }
        if (events != null) {
            events.close();
        }
        if (http != null) {
            http.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> null).join();
        }
        if (vertx != null) {
            vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> null).join();
        }
        if (view != null) {
            view.close();
        }
        if (subscribers != null) {
            subscribers.close();
        }
        if (deadLetters != null) {
            deadLetters.close();
        }
        if (spms != null) {
            spms.close();
        }
        if (hosts != null) {
            hosts.close();
        }
        if (leases != null) {
            leases.close();
        }
        if (zk != null) {
            zk.close();
        }
        if (admin != null) {
            admin.close();
        }
        LOG.info("manager {} stopped", config.managerId());
    }
}
