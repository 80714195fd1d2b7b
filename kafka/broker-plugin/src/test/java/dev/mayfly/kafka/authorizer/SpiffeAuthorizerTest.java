// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// SpiffeAuthorizer on Kafka's real StandardAuthorizer (no broker): ACLs
// match a SpiffePrincipal by type and name, super users come from the
// policy, and an expired SpiffePrincipal is denied under a fake clock.
package dev.mayfly.kafka.authorizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.mayfly.kafka.policy.PolicySource;
import dev.mayfly.kafka.principal.ExpiryEnforcement;
import dev.mayfly.kafka.principal.SpiffePrincipal;
import dev.mayfly.kafka.ssl.ServedSvids;
import dev.mayfly.kafka.testing.FakeClock;
import dev.mayfly.kafka.testing.RepoFiles;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.metrics.Metrics;
import org.apache.kafka.common.metrics.internals.PluginMetricsImpl;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.metadata.authorizer.StandardAcl;
import org.apache.kafka.server.authorizer.Action;
import org.apache.kafka.server.authorizer.AuthorizableRequestContext;
import org.apache.kafka.server.authorizer.AuthorizationResult;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

class SpiffeAuthorizerTest {
    private static final Instant NOT_AFTER = Instant.parse("2026-11-25T18:00:00Z");
    private static final List<Action> WRITE_ORDERS =
            List.of(
                    new Action(
                            AclOperation.WRITE,
                            new ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL),
                            1,
                            true,
                            true));

    private final FakeClock clock = new FakeClock(NOT_AFTER.minusSeconds(60));
    @TempDir Path tmp;
    private final Metrics metrics = new Metrics();
    private SpiffeAuthorizer authorizer;
    private int instances = 0;

    // As the broker does: StandardAuthorizer records its own metrics there.
    private SpiffeAuthorizer newAuthorizer(Map<String, Object> configs) {
        SpiffeAuthorizer a = new SpiffeAuthorizer(clock);
        a.configure(configs);
        a.withPluginMetrics(
                new PluginMetricsImpl(metrics, Map.of("plugin", "authorizer" + instances++)));
        a.completeInitialLoad();
        return a;
    }

    private double metric(String name) {
        return metric("authorizer0", name);
    }

    private double metric(String plugin, String name) {
        return metrics.metrics().entrySet().stream()
                .filter(
                        e ->
                                e.getKey().name().equals(name)
                                        && e.getKey().tags().get("plugin").equals(plugin))
                .mapToDouble(e -> ((Number) e.getValue().metricValue()).doubleValue())
                .findFirst()
                .orElseThrow(() -> new AssertionError("no metric " + name));
    }

    private static Map<String, Object> configs() {
        Map<String, Object> configs = new HashMap<>();
        configs.put("node.id", "1");
        configs.put(
                SpiffeAuthorizer.POLICY_FILE_CONFIG,
                RepoFiles.find("bridge/testdata/mapping_policy.yaml").toString());
        return configs;
    }

    @BeforeEach
    void start() {
        authorizer = newAuthorizer(configs());
        authorizer.addAcl(
                Uuid.randomUuid(),
                new StandardAcl(
                        ResourceType.TOPIC,
                        "orders",
                        PatternType.LITERAL,
                        "User:orders.writer",
                        "*",
                        AclOperation.WRITE,
                        AclPermissionType.ALLOW));
    }

    private AuthorizationResult writeOrders(KafkaPrincipal principal) {
        List<AuthorizationResult> results =
                authorizer.authorize(new Context(principal), WRITE_ORDERS);
        assertEquals(1, results.size());
        return results.get(0);
    }

    private static SpiffePrincipal writer() {
        return new SpiffePrincipal(
                "User", "orders.writer", "spiffe://prod.acme/ns/orders/sa/writer", NOT_AFTER);
    }

    @Test
    void aclsMatchASpiffePrincipalByTypeAndName() {
        assertEquals(AuthorizationResult.ALLOWED, writeOrders(writer()));
        assertEquals(
                AuthorizationResult.DENIED,
                writeOrders(
                        new SpiffePrincipal(
                                "User",
                                "orders.reader",
                                "spiffe://prod.acme/ns/orders/sa/reader",
                                NOT_AFTER)));
    }

    @Test
    void expiredPrincipalIsDeniedOneMillisecondAfterTheGrace() {
        clock.set(NOT_AFTER);
        assertEquals(AuthorizationResult.ALLOWED, writeOrders(writer()));
        // A request read in time but authorized just after NotAfter.
        clock.set(NOT_AFTER.plus(SpiffeAuthorizer.EXPIRY_GRACE));
        assertEquals(AuthorizationResult.ALLOWED, writeOrders(writer()));
        assertEquals(0, authorizer.expiredDenials());
        clock.set(NOT_AFTER.plus(SpiffeAuthorizer.EXPIRY_GRACE).plusMillis(1));
        assertEquals(AuthorizationResult.DENIED, writeOrders(writer()));
        assertEquals(1, authorizer.expiredDenials());
        // Even a super user: an expired SVID is no identity.
        assertEquals(
                AuthorizationResult.DENIED,
                writeOrders(
                        new SpiffePrincipal(
                                "User", "broker", "spiffe://prod.acme/kafka/broker", NOT_AFTER)));
        assertEquals(2, authorizer.expiredDenials());
        assertEquals(2.0, metric("expired-svid-denials"));
    }

    @Test
    void superUsersComeFromThePolicy() {
        // mapping_policy.yaml: super_users: [User:broker]; no ACL names it.
        assertEquals(
                AuthorizationResult.ALLOWED,
                writeOrders(
                        new SpiffePrincipal(
                                "User", "broker", "spiffe://prod.acme/kafka/broker", NOT_AFTER)));
        assertEquals(
                AuthorizationResult.ALLOWED, writeOrders(new KafkaPrincipal("User", "broker")));
        assertEquals(AuthorizationResult.DENIED, writeOrders(new KafkaPrincipal("User", "admin")));
    }

    @Test
    void configuredSuperUsersAreKept() {
        Map<String, Object> configs = configs();
        configs.put("super.users", "User:admin; User:broker");
        SpiffeAuthorizer a = newAuthorizer(configs);
        assertEquals(
                List.of(AuthorizationResult.ALLOWED),
                a.authorize(new Context(new KafkaPrincipal("User", "admin")), WRITE_ORDERS));
        assertEquals(
                List.of(AuthorizationResult.ALLOWED),
                a.authorize(new Context(new KafkaPrincipal("User", "broker")), WRITE_ORDERS));
        assertEquals(
                "User:admin;User:broker;User:x",
                SpiffeAuthorizer.mergeSuperUsers(
                        "User:admin; User:broker;", List.of("User:broker", "User:x")));
    }

    @Test
    void superUsersFollowAReloadedPolicy() throws Exception {
        Path file = tmp.resolve("policy.yaml");
        String rules =
                "trust_domains: [prod.acme]\n"
                        + "principals:\n"
                        + "  - id: spiffe://prod.acme/kafka/{name}\n"
                        + "    principal: User:{name}\n";
        Files.writeString(file, rules + "super_users: [User:broker]\n");
        SpiffeAuthorizer a = new SpiffeAuthorizer(clock, PolicySource.open(file, clock));
        a.configure(Map.of("node.id", "1"));
        a.withPluginMetrics(new PluginMetricsImpl(metrics, Map.of("plugin", "reloading")));
        a.completeInitialLoad();
        KafkaPrincipal broker = new KafkaPrincipal("User", "broker");
        KafkaPrincipal admin = new KafkaPrincipal("User", "admin");
        assertEquals(
                List.of(AuthorizationResult.ALLOWED),
                a.authorize(new Context(broker), WRITE_ORDERS));
        assertEquals(
                List.of(AuthorizationResult.DENIED), a.authorize(new Context(admin), WRITE_ORDERS));
        assertEquals(0.0, metric("reloading", "policy-reloads"));

        KafkaPrincipal writer = new KafkaPrincipal("User", "orders.writer");
        a.addAcl(
                Uuid.randomUuid(),
                new StandardAcl(
                        ResourceType.TOPIC,
                        "orders",
                        PatternType.LITERAL,
                        "User:orders.writer",
                        "*",
                        AclOperation.WRITE,
                        AclPermissionType.ALLOW));

        Files.writeString(file, rules + "super_users: [User:admin]\n");
        clock.advance(PolicySource.CHECK_INTERVAL); // seen changing
        a.authorize(new Context(admin), WRITE_ORDERS);
        clock.advance(PolicySource.CHECK_INTERVAL); // read
        assertEquals(
                List.of(AuthorizationResult.DENIED),
                a.authorize(new Context(broker), WRITE_ORDERS));
        assertEquals(
                List.of(AuthorizationResult.ALLOWED),
                a.authorize(new Context(admin), WRITE_ORDERS));
        assertEquals(1.0, metric("reloading", "policy-reloads"));
        assertEquals(0.0, metric("reloading", "policy-load-failures"));
        // The ACLs stay: only the super users changed.
        assertEquals(
                List.of(AuthorizationResult.ALLOWED),
                a.authorize(new Context(writer), WRITE_ORDERS));
    }

    @Test
    void usesTheBrokersSharedPolicy() throws Exception {
        assertSame(
                PolicySource.shared(
                        RepoFiles.find("bridge/testdata/mapping_policy.yaml").toString()),
                authorizer.policySource());
    }

    @Test
    void publishesTheEnforcedCloseCount() {
        assertEquals(
                (double) ExpiryEnforcement.enforcedCloses(),
                metric("expired-svid-connection-closes"));
    }

    @Test
    void publishesWhenTheServedSvidAndBundleExpire() {
        assertEquals(
                ServedSvids.jvm()
                        .earliestSvidNotAfter()
                        .map(t -> (double) t.getEpochSecond())
                        .orElse(Double.NaN),
                metric("svid-not-after-seconds"));
        assertEquals(
                ServedSvids.jvm()
                        .earliestBundleRootNotAfter()
                        .map(t -> (double) t.getEpochSecond())
                        .orElse(Double.NaN),
                metric("bundle-root-not-after-seconds"));
        assertEquals((double) ServedSvids.jvm().refusals(), metric("svid-refusals"));
    }

    @Test
    void configureNeedsThePolicy() {
        Map<String, Object> configs = configs();
        configs.remove(SpiffeAuthorizer.POLICY_FILE_CONFIG);
        assertThrows(ConfigException.class, () -> new SpiffeAuthorizer(clock).configure(configs));
    }

    /** A request context with just a principal, over SSL from loopback. */
    private record Context(KafkaPrincipal principal) implements AuthorizableRequestContext {
        @Override
        public String listenerName() {
            return "SSL";
        }

        @Override
        public SecurityProtocol securityProtocol() {
            return SecurityProtocol.SSL;
        }

        @Override
        public InetAddress clientAddress() {
            return InetAddress.getLoopbackAddress();
        }

        @Override
        public int requestType() {
            return 0; // Produce
        }

        @Override
        public int requestVersion() {
            return 11;
        }

        @Override
        public String clientId() {
            return "test";
        }

        @Override
        public int correlationId() {
            return 1;
        }
    }
}
