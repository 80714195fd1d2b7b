// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The principal builder on real certificates (src/test/resources/certs) and
// the shared mapping policy: the principal and its NotAfter, expiry
// enforcement at the NotAfter boundary under a fake clock, and refusals.
package dev.mayfly.kafka.principal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mayfly.kafka.policy.PolicySource;
import dev.mayfly.kafka.testing.FakeClock;
import dev.mayfly.kafka.testing.FakeSslSession;
import dev.mayfly.kafka.testing.RepoFiles;
import dev.mayfly.kafka.testing.TestCerts;

import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.PlaintextAuthenticationContext;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import javax.net.ssl.SSLSession;

class SpiffePrincipalBuilderTest {
    private final java.security.cert.X509Certificate writer = TestCerts.load("writer");
    private final Instant notAfter = writer.getNotAfter().toInstant();
    private final FakeClock clock = new FakeClock(notAfter.minus(Duration.ofMinutes(5)));
    private SpiffePrincipalBuilder builder;

    @BeforeEach
    void configure() {
        builder = new SpiffePrincipalBuilder(clock);
        builder.configure(
                Map.of(
                        SpiffePrincipalBuilder.POLICY_FILE_CONFIG,
                        RepoFiles.find("bridge/testdata/mapping_policy.yaml").toString()));
    }

    @Test
    void mapsTheSvidToItsPolicyPrincipal() {
        KafkaPrincipal p = builder.build(FakeSslSession.context(writer));
        SpiffePrincipal sp = assertInstanceOf(SpiffePrincipal.class, p);
        assertEquals("User:orders.writer", sp.toString());
        assertEquals("spiffe://prod.acme/ns/orders/sa/writer", sp.spiffeId());
        assertEquals(notAfter, sp.notAfter());
        // Equal to the plain principal an ACL names, type and name alike.
        assertEquals(new KafkaPrincipal("User", "orders.writer").toString(), sp.toString());
    }

    @Test
    void servesAtNotAfterAndClosesOneMillisecondLater() {
        clock.set(notAfter);
        long before = ExpiryEnforcement.enforcedCloses();
        assertEquals(
                "User:orders.writer", builder.build(FakeSslSession.context(writer)).toString());
        assertEquals(before, ExpiryEnforcement.enforcedCloses());

        clock.set(notAfter.plusMillis(1));
        SvidExpiredException e =
                assertThrows(
                        SvidExpiredException.class,
                        () -> builder.build(FakeSslSession.context(writer)));
        assertEquals(
                "closing the connection of User:orders.writer"
                        + " (spiffe://prod.acme/ns/orders/sa/writer): its SVID expired at "
                        + notAfter,
                e.getMessage());
        assertEquals(0, e.getStackTrace().length);
        assertEquals(before + 1, ExpiryEnforcement.enforcedCloses());

        // Every later request on it is refused and counted; the log line is not repeated.
        assertThrows(
                SvidExpiredException.class, () -> builder.build(FakeSslSession.context(writer)));
        assertEquals(before + 2, ExpiryEnforcement.enforcedCloses());
        assertFalse(builder.firstEnforcement(writer));
    }

    @Test
    void logsOncePerCertificate() {
        java.security.cert.X509Certificate other = TestCerts.load("unmapped");
        assertTrue(builder.firstEnforcement(other));
        assertFalse(builder.firstEnforcement(other));
        assertFalse(builder.firstEnforcement(TestCerts.load("unmapped")));
    }

    @Test
    void deniedIdsAreRefusedWithTheReason() {
        SpiffeDeniedException foreign =
                assertThrows(
                        SpiffeDeniedException.class,
                        () -> builder.build(FakeSslSession.context(TestCerts.load("foreign"))));
        assertEquals(
                "SPIFFE ID spiffe://dev.acme/ns/orders/sa/writer is denied by the policy:"
                        + " foreign_trust_domain (trust domain dev.acme is not one of the policy's"
                        + " (prod.acme, staging.acme))",
                foreign.getMessage());
        SpiffeDeniedException unmapped =
                assertThrows(
                        SpiffeDeniedException.class,
                        () -> builder.build(FakeSslSession.context(TestCerts.load("unmapped"))));
        assertEquals(
                "SPIFFE ID spiffe://prod.acme/kafka/brokers is denied by the policy:"
                        + " unmapped (no rule matches, and unmapped is deny)",
                unmapped.getMessage());
    }

    @Test
    void nonSpiffeCertificatesAreRefused() {
        SpiffeDeniedException e =
                assertThrows(
                        SpiffeDeniedException.class,
                        () -> builder.build(FakeSslSession.context(TestCerts.load("not_spiffe"))));
        assertEquals(
                "not an X.509-SVID (leaf certificate must have exactly one URI SAN, found 0);"
                        + " subject CN=not_spiffe,O=mayfly-test",
                e.getMessage());
        assertThrows(
                SpiffeDeniedException.class,
                () -> builder.build(FakeSslSession.context(TestCerts.load("two_uris"))));
        assertEquals(
                "no client certificate: a SPIFFE listener needs ssl.client.auth=required",
                assertThrows(
                                SpiffeDeniedException.class,
                                () -> builder.build(FakeSslSession.context()))
                        .getMessage());
    }

    @Test
    void plaintextIsAnonymous() {
        assertSame(
                KafkaPrincipal.ANONYMOUS,
                builder.build(
                        new PlaintextAuthenticationContext(InetAddress.getLoopbackAddress(), "P")));
    }

    @Test
    void configureNeedsAValidPolicyFile() {
        SpiffePrincipalBuilder b = new SpiffePrincipalBuilder(clock);
        assertThrows(ConfigException.class, () -> b.configure(Map.of()));
        ConfigException e =
                assertThrows(
                        ConfigException.class,
                        () ->
                                b.configure(
                                        Map.of(
                                                SpiffePrincipalBuilder.POLICY_FILE_CONFIG,
                                                RepoFiles.find(
                                                                "bridge/testdata/mapping_vectors.yaml")
                                                        .toString())));
        assertTrue(
                e.getMessage().contains("mapping_vectors.yaml:9: policy: unknown key"),
                e.getMessage());
    }

    @Test
    void usesTheBrokersSharedPolicy() throws Exception {
        assertSame(
                PolicySource.shared(
                        RepoFiles.find("bridge/testdata/mapping_policy.yaml").toString()),
                builder.policySource());
    }

    // A policy with writer's ID mapped by `rule` (a principals entry).
    private Path policyFile(Path dir, String rule) throws Exception {
        Path file = dir.resolve("policy.yaml");
        Files.writeString(
                file, "trust_domains: [prod.acme]\nprincipals:\n" + rule + "unmapped: deny\n");
        return file;
    }

    private void reload() {
        clock.advance(PolicySource.CHECK_INTERVAL); // seen changing
        builder.policySource().current();
        clock.advance(PolicySource.CHECK_INTERVAL); // read
    }

    @Test
    void aRemapClosesTheLiveConnectionAndANewOneGetsTheNewPrincipal(@TempDir Path tmp)
            throws Exception {
        String byNs = "  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}\n    principal: User:{ns}.{sa}\n";
        Path file = policyFile(tmp, byNs);
        builder = new SpiffePrincipalBuilder(clock, PolicySource.open(file, clock));
        SSLSession live = FakeSslSession.withPeer(writer);
        assertEquals("User:orders.writer", builder.build(FakeSslSession.context(live)).toString());

        // Unrelated change: the connection keeps its principal.
        Files.writeString(file, Files.readString(file) + "super_users: [User:x]\n");
        reload();
        assertEquals(2, builder.policySource().snapshot().generation());
        assertEquals("User:orders.writer", builder.build(FakeSslSession.context(live)).toString());

        policyFile(tmp, byNs.replace("User:{ns}.{sa}", "User:{sa}@{ns}"));
        reload();
        long before = PolicyEnforcement.policyCloses();
        SpiffeDeniedException e =
                assertThrows(
                        SpiffeDeniedException.class,
                        () -> builder.build(FakeSslSession.context(live)));
        assertEquals(
                "closing the connection of User:orders.writer: the policy changed (policy sha256:"
                        + PolicySource.open(file, clock).current().sha256()
                        + ", generation 3): the policy now maps"
                        + " spiffe://prod.acme/ns/orders/sa/writer to User:writer@orders",
                e.getMessage());
        assertEquals(before + 1, PolicyEnforcement.policyCloses());
        assertFalse(live.isValid());
        // Every later request on it too; a new connection gets the new principal.
        assertThrows(
                SpiffeDeniedException.class, () -> builder.build(FakeSslSession.context(live)));
        assertEquals(
                "User:writer@orders", builder.build(FakeSslSession.context(writer)).toString());
    }

    @Test
    void aDenialClosesTheLiveConnection(@TempDir Path tmp) throws Exception {
        Path file =
                policyFile(tmp, "  - id: spiffe://prod.acme/ns/orders/**\n    principal: User:o\n");
        builder = new SpiffePrincipalBuilder(clock, PolicySource.open(file, clock));
        SSLSession live = FakeSslSession.withPeer(writer);
        assertEquals("User:o", builder.build(FakeSslSession.context(live)).toString());

        policyFile(tmp, "  - id: spiffe://prod.acme/ns/billing/**\n    principal: User:o\n");
        reload();
        long before = PolicyEnforcement.policyCloses();
        SpiffeDeniedException e =
                assertThrows(
                        SpiffeDeniedException.class,
                        () -> builder.build(FakeSslSession.context(live)));
        assertTrue(
                e.getMessage()
                        .endsWith(
                                ", generation 2): SPIFFE ID spiffe://prod.acme/ns/orders/sa/writer"
                                        + " is denied by the policy: unmapped (no rule matches,"
                                        + " and unmapped is deny)"),
                e.getMessage());
        assertEquals(before + 1, PolicyEnforcement.policyCloses());
        // A new connection is simply refused: it never had a principal.
        SpiffeDeniedException fresh =
                assertThrows(
                        SpiffeDeniedException.class,
                        () -> builder.build(FakeSslSession.context(writer)));
        assertTrue(fresh.getMessage().startsWith("SPIFFE ID "), fresh.getMessage());
        assertEquals(before + 1, PolicyEnforcement.policyCloses());
    }

    @Test
    void serdeIsTheVersionedFormat() {
        SpiffePrincipal p = (SpiffePrincipal) builder.build(FakeSslSession.context(writer));
        SpiffePrincipal back = (SpiffePrincipal) builder.deserialize(builder.serialize(p));
        assertEquals(p.spiffeId(), back.spiffeId());
        assertEquals(p.notAfter(), back.notAfter());
    }
}
