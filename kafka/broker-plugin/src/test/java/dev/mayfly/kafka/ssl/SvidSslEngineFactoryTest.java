// SvidSslEngineFactory: configuration, in-memory TLS handshakes between
// engines of two factories (mutual SVIDs, a refused trust domain, a rotation
// of the server's SVID and of the client's bundle picked up by the next
// engine), and Kafka's keystore()/truststore() views. Kafka's own SslFactory
// driving the class is KafkaSslFactoryTest.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.Handshake.peerLeaf;
import static dev.mayfly.kafka.ssl.Handshake.refused;
import static dev.mayfly.kafka.ssl.TestSvids.certs;
import static dev.mayfly.kafka.ssl.TestSvids.config;
import static dev.mayfly.kafka.ssl.TestSvids.factory;
import static dev.mayfly.kafka.ssl.TestSvids.idOf;
import static dev.mayfly.kafka.ssl.TestSvids.publish;
import static dev.mayfly.kafka.ssl.TestSvids.resource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mayfly.kafka.policy.PolicySource;
import dev.mayfly.kafka.spiffe.TrustDomain;

import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SslConfigs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Collections;
import java.util.Map;

import javax.net.ssl.SSLEngine;

class SvidSslEngineFactoryTest {
    @TempDir Path tmp;

    private Path dir(String name) {
        return tmp.resolve(name);
    }

    // Publishes `svid` with `bundles` as version v1 of directory `name`, and
    // returns a factory on it for example.org (`peerIds` null: any peer).
    private SvidSslEngineFactory published(
            String name, String svid, String peerIds, String... bundles) throws Exception {
        publish(dir(name), "v1", svid, bundles);
        return factory(dir(name), TestSvids.TD, peerIds);
    }

    // The broker's SVID in "broker", trusting root A.
    private SvidSslEngineFactory broker() throws Exception {
        return published("broker", "broker", null, "bundle_a.pem");
    }

    // orders/writer's SVID in "client", trusting root A.
    private SvidSslEngineFactory client(String peerIds) throws Exception {
        return published("client", "client", peerIds, "bundle_a.pem");
    }

    @Test
    void mutualHandshakeBetweenTwoSvidsOfOneTrustDomain() throws Exception {
        SSLEngine s = broker().createServerSslEngine("127.0.0.1", 9093);
        SSLEngine c =
                client(TestSvids.BROKER_ID).createClientSslEngine("broker.invalid", 9093, "https");
        assertTrue(s.getNeedClientAuth());
        assertFalse(s.getUseClientMode());
        assertTrue(c.getUseClientMode());
        Handshake.run(c, s);
        assertEquals(TestSvids.BROKER_ID, idOf(peerLeaf(c)));
        assertEquals(TestSvids.CLIENT_ID, idOf(peerLeaf(s)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"broker", "broker_ed25519", "broker_rsa"})
    void everyKeyTypeMayflyMints(String svid) throws Exception {
        SvidSslEngineFactory server = published("broker", svid, null, "bundle_a.pem");
        Handshake.Engines e = Handshake.between(client(null), server);
        assertEquals(certs(svid + "/svid.pem").get(0), peerLeaf(e.client()));
    }

    @Test
    void serverRefusesAClientOfAnotherTrustDomain() throws Exception {
        // Both sides trust both roots; only the server's trust domain list refuses.
        SvidSslEngineFactory server =
                published("broker", "broker", null, "bundle_a.pem", "bundle_other.pem");
        publish(dir("other"), "v1", "other", "bundle_other.pem", "bundle_a.pem");
        SvidSslEngineFactory client = factory(dir("other"), "other.org,example.org", null);
        String why = refused(client, server);
        assertTrue(
                why.contains(
                        "peer SPIFFE ID spiffe://other.org/orders/writer is not in an"
                                + " allowed trust domain [example.org]"),
                why);
    }

    @Test
    void serverRefusesAClientWithoutCertificate() throws Exception {
        SvidSslEngineFactory server = broker();
        // A client that trusts the bundle but has no key manager, so sends no certificate.
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(
                null,
                new javax.net.ssl.TrustManager[] {
                    new SpiffeTrustManager(
                            certs("bundle_a.pem"),
                            java.util.Set.of(TrustDomain.fromString("example.org")),
                            java.util.Set.of())
                },
                null);
        SSLEngine c = ctx.createSSLEngine("127.0.0.1", 9093);
        c.setUseClientMode(true);
        String why = refused(c, server.createServerSslEngine("127.0.0.1", 9093));
        assertTrue(why.contains("Empty client certificate chain"), why);
    }

    @Test
    void withAPolicyTheServerRefusesAClientItDenies() throws Exception {
        SvidSslEngineFactory self = broker();
        Path policy = tmp.resolve("policy.yaml");
        java.nio.file.Files.writeString(
                policy,
                "trust_domains: [example.org]\n"
                        + "principals:\n"
                        + "  - id: spiffe://example.org/kafka/broker\n"
                        + "    principal: User:broker\n");
        Map<String, Object> conf = config(dir("broker"), "example.org", null);
        conf.put(SvidSslEngineFactory.POLICY_FILE_CONFIG, policy.toString());
        SvidSslEngineFactory server = new SvidSslEngineFactory();
        server.configure(conf);
        // orders/writer maps to nothing: refused at the handshake, with the reason.
        String why = refused(client(null), server);
        assertTrue(
                why.contains(
                        "SPIFFE ID spiffe://example.org/orders/writer is denied by the"
                                + " policy: unmapped"),
                why);
        // The broker's own ID maps: accepted.
        Handshake.between(self, server);
        // The policy copy the principal builder and authorizer share.
        assertSame(PolicySource.shared(policy.toString()), server.policySource());
    }

    @Test
    void clientRefusesABrokerNotInPeerIds() throws Exception {
        String why = refused(client("spiffe://example.org/kafka/other"), broker());
        assertTrue(why.contains("is not one of mayfly.peer.spiffe.ids"), why);
    }

    @Test
    void nextEngineUsesTheNewSvidAndBundle() throws Exception {
        SvidSslEngineFactory server = broker();
        SvidSslEngineFactory client = client(null);
        SSLEngine before = Handshake.between(client, server).client();
        assertEquals(certs("broker/svid.pem").get(0), peerLeaf(before));

        // Root rotation: the broker moves to a leaf under root B, with both roots.
        publish(dir("broker"), "v2", "broker_b", "bundle_ab.pem");
        // The client still trusts root A only: its next engine refuses the new leaf.
        String why = refused(client, server);
        assertTrue(
                why.contains("peer chain does not validate against the trust bundle (1 roots)"),
                why);
        // Its bundle gains root B: the next engine accepts the broker's new SVID.
        publish(dir("client"), "v2", "client", "bundle_ab.pem");
        Handshake.Engines after = Handshake.between(client, server);
        assertEquals(certs("broker_b/svid.pem").get(0), peerLeaf(after.client()));
        assertEquals(TestSvids.CLIENT_ID, idOf(peerLeaf(after.server())));
        assertEquals("..v2", server.currentSvid().version());
        // The engine made before the swap keeps the session it had.
        assertEquals(certs("broker/svid.pem").get(0), peerLeaf(before));
    }

    @Test
    void aBadVersionLeavesEnginesOnTheLastGoodSvid() throws Exception {
        SvidSslEngineFactory server = broker();
        SvidSslEngineFactory client = client(null);
        publish(
                dir("broker"),
                "v2",
                resource("broker_b/svid.pem"),
                resource("broker/svid_key.pem"),
                resource("bundle_ab.pem"));
        SSLEngine c = Handshake.between(client, server).client();
        assertEquals(certs("broker/svid.pem").get(0), peerLeaf(c));
        assertEquals("..v1", server.currentSvid().version());
    }

    @Test
    void severalRootsInTheServersBundle() throws Exception {
        SvidSslEngineFactory server = published("broker", "broker", null, "bundle_ab.pem");
        SvidSslEngineFactory a = published("a", "client", null, "bundle_a.pem");
        SvidSslEngineFactory b = published("b", "client_b", null, "bundle_ab.pem");
        assertEquals(TestSvids.CLIENT_ID, idOf(peerLeaf(Handshake.between(a, server).server())));
        assertEquals(TestSvids.CLIENT_B_ID, idOf(peerLeaf(Handshake.between(b, server).server())));
        assertEquals(2, Collections.list(server.truststore().aliases()).size());
    }

    @Test
    void keystoreAndTruststoreHoldTheCurrentSet() throws Exception {
        SvidSslEngineFactory f = broker();
        KeyStore ks = f.keystore();
        assertEquals(
                Collections.singletonList(SvidSslEngineFactory.KEY_ALIAS),
                Collections.list(ks.aliases()));
        assertTrue(ks.isKeyEntry(SvidSslEngineFactory.KEY_ALIAS));
        assertEquals(2, ks.getCertificateChain(SvidSslEngineFactory.KEY_ALIAS).length);
        assertEquals(
                certs("broker/svid.pem").get(0), ks.getCertificate(SvidSslEngineFactory.KEY_ALIAS));
        KeyStore ts = f.truststore();
        assertEquals(1, ts.size());
        assertEquals(
                certs("bundle_a.pem").get(0),
                ts.getCertificate(Collections.list(ts.aliases()).get(0)));
        publish(dir("broker"), "v2", "broker_b", "bundle_ab.pem");
        assertEquals(
                certs("broker_b/svid.pem").get(0),
                f.keystore().getCertificate(SvidSslEngineFactory.KEY_ALIAS));
        assertEquals(2, f.truststore().size());
    }

    @Test
    void appliesKafkasEnabledProtocolsAndCipherSuites() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        Map<String, Object> sc = config(dir("broker"), "example.org", null);
        sc.put(SslConfigs.SSL_ENABLED_PROTOCOLS_CONFIG, java.util.List.of("TLSv1.2"));
        sc.put(SslConfigs.SSL_CIPHER_SUITES_CONFIG, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
        SvidSslEngineFactory server = new SvidSslEngineFactory();
        server.configure(sc);
        SSLEngine s = server.createServerSslEngine("127.0.0.1", 9093);
        assertEquals(java.util.List.of("TLSv1.2"), java.util.List.of(s.getEnabledProtocols()));
        assertEquals(
                java.util.List.of("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
                java.util.List.of(s.getEnabledCipherSuites()));
        SSLEngine c = client(null).createClientSslEngine("127.0.0.1", 9093, null);
        Handshake.run(c, s);
        assertEquals("TLSv1.2", c.getSession().getProtocol());
        assertEquals("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", c.getSession().getCipherSuite());
        assertEquals(TestSvids.CLIENT_ID, idOf(peerLeaf(s)));
    }

    @Test
    void shouldBeRebuiltOnlyWhenItsOwnSettingsChange() throws Exception {
        SvidSslEngineFactory f = broker();
        Map<String, Object> same = config(dir("broker"), "example.org", null);
        same.put(SslConfigs.SSL_PROTOCOL_CONFIG, "TLSv1.3");
        assertFalse(f.shouldBeRebuilt(same));
        publish(dir("broker"), "v2", "broker_b", "bundle_ab.pem"); // a rotation is no reason
        assertFalse(f.shouldBeRebuilt(same));
        assertTrue(f.shouldBeRebuilt(config(dir("broker"), "example.org,other.org", null)));
        assertTrue(f.shouldBeRebuilt(config(dir("broker"), "example.org", TestSvids.CLIENT_ID)));
        assertTrue(f.shouldBeRebuilt(config(dir("client"), "example.org", null)));
        assertEquals(0, f.reconfigurableConfigs().size());
    }

    @Test
    void configErrorsNameTheSetting() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        Map<String, Object> noDir = config(dir("broker"), "example.org", null);
        noDir.remove(SvidSslEngineFactory.SVID_DIR_CONFIG);
        assertEquals(
                "Invalid value null for configuration mayfly.svid.dir: is required by "
                        + SvidSslEngineFactory.class.getName(),
                configError(noDir));
        assertEquals(
                "Invalid value Example.org for configuration mayfly.trust.domains: trust domain"
                        + " characters are limited to lowercase letters, numbers, dots, dashes, and"
                        + " underscores: \"Example.org\"",
                configError(config(dir("broker"), "Example.org", null)));
        assertEquals(
                "Invalid value example.org:9093 for configuration mayfly.trust.domains: trust"
                        + " domain cannot have a port: \"example.org:9093\"",
                configError(config(dir("broker"), "example.org:9093", null)));
        assertEquals(
                "Invalid value , for configuration mayfly.trust.domains: names no trust domain",
                configError(config(dir("broker"), ",", null)));
        assertEquals(
                "Invalid value spiffe://other.org/x for configuration mayfly.peer.spiffe.ids: "
                        + "spiffe://other.org/x is not in mayfly.trust.domains (example.org)",
                configError(config(dir("broker"), "example.org", "spiffe://other.org/x")));
        assertEquals(
                "Invalid value spiffe://example.org/a/ for configuration mayfly.peer.spiffe.ids: "
                        + "path cannot have a trailing slash: \"spiffe://example.org/a/\"",
                configError(config(dir("broker"), "example.org", "spiffe://example.org/a/")));
        assertEquals(
                "Invalid value "
                        + dir("none")
                        + " for configuration mayfly.svid.dir: no usable SVID: "
                        + dir("none").resolve("..data")
                        + ": missing (is "
                        + dir("none")
                        + " a directory written by `mayfly watch x509 --write`?)",
                configError(config(dir("none"), "example.org", null)));
    }

    private static String configError(Map<String, Object> c) {
        return assertThrows(ConfigException.class, () -> new SvidSslEngineFactory().configure(c))
                .getMessage();
    }
}
