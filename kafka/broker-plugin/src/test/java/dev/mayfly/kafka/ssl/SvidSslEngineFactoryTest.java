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

    // A client of other.org whose engine trusts example.org's broker.
    private SSLEngine otherOrgClient() throws Exception {
        javax.net.ssl.KeyManagerFactory kmf = javax.net.ssl.KeyManagerFactory.getInstance("PKIX");
        if (!java.nio.file.Files.exists(dir("other"))) {
            publish(dir("other"), "v1", "other", "bundle_other.pem");
        }
        SvidSet other = SvidSet.load(dir("other").resolve("..v1"), "v1");
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry(
                "k",
                other.key(),
                new char[0],
                other.chain().toArray(new java.security.cert.X509Certificate[0]));
        kmf.init(ks, new char[0]);
        return TestSvids.clientTrustingRootA(kmf.getKeyManagers());
    }

    @Test
    void serverRefusesAClientOfAnotherTrustDomain() throws Exception {
        String why = refused(otherOrgClient(), broker().createServerSslEngine("127.0.0.1", 9093));
        assertTrue(
                why.contains(
                        "peer SPIFFE ID spiffe://other.org/orders/writer is not in an"
                                + " allowed trust domain [example.org]"),
                why);
        // Allowed, but the SVID directory holds example.org's bundle only.
        SvidSslEngineFactory server = factory(dir("broker"), "example.org,other.org", null);
        why = refused(otherOrgClient(), server.createServerSslEngine("127.0.0.1", 9093));
        assertTrue(
                why.contains(
                        "peer SPIFFE ID spiffe://other.org/orders/writer is in trust domain"
                                + " other.org, for which there is no trust bundle (bundles:"
                                + " [example.org])"),
                why);
    }

    // Reproduced on a live broker: a root of another trust domain in the
    // broker's bundle file could sign spiffe://prod.acme/kafka/broker. The
    // file is the bundle of the SVID's trust domain (identity/svid_files.h):
    // a root that names another one in its URI SAN makes the version unusable.
    @Test
    void aBundleFileWithAnotherTrustDomainsRootIsRefused() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem", "bundle_other.pem");
        assertEquals(
                "Invalid value "
                        + dir("broker")
                        + " for configuration mayfly.svid.dir: no usable SVID: "
                        + dir("broker").resolve("..v1/svid_bundle.pem")
                        + ": root 2 (CN=other.org root CA,O=Mayfly) is a root of trust domain"
                        + " other.org; this file is the bundle of example.org, the trust domain"
                        + " of spiffe://example.org/kafka/broker in svid.pem",
                configError(config(dir("broker"), "example.org", null)));
    }

    @Test
    void serverRefusesAClientWithoutCertificate() throws Exception {
        SvidSslEngineFactory server = broker();
        // A client that trusts the bundle but has no key manager, so sends no certificate.
        String why =
                refused(
                        TestSvids.clientTrustingRootA(null),
                        server.createServerSslEngine("127.0.0.1", 9093));
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
    void peerIdsBindTheServersOnlyNotTheClients() throws Exception {
        // The broker's settings list the broker (for its own connections);
        // its server engines still take any client of its trust domain.
        SvidSslEngineFactory server = broker();
        assertEquals(
                TestSvids.CLIENT_ID,
                idOf(peerLeaf(Handshake.between(client(null), server).server())));
        // Its client engines refuse a server that is not the broker.
        String why = refused(server, published("writer", "client", null, "bundle_a.pem"));
        assertTrue(
                why.contains(
                        "peer SPIFFE ID spiffe://example.org/orders/writer is not one of"
                                + " mayfly.peer.spiffe.ids"),
                why);
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
                why.contains(
                        "peer chain does not validate against the trust bundle of example.org"
                                + " (1 roots)"),
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
        Map<String, Object> noPeers = config(dir("broker"), "example.org", null);
        noPeers.remove(SvidSslEngineFactory.PEER_SPIFFE_IDS_CONFIG);
        assertEquals(
                "Invalid value null for configuration mayfly.peer.spiffe.ids: is required by "
                        + SvidSslEngineFactory.class.getName()
                        + " unless mayfly.policy.file names a policy with brokers: the SPIFFE IDs"
                        + " of the brokers (and controllers) this factory's client connections"
                        + " may reach; without them any workload of mayfly.trust.domains would be"
                        + " trusted as the broker",
                configError(noPeers));
        Map<String, Object> noOwnId = config(dir("broker"), "example.org", null);
        noOwnId.remove(SvidSslEngineFactory.SVID_SPIFFE_ID_CONFIG);
        assertEquals(
                "Invalid value null for configuration mayfly.svid.spiffe.id: is required by "
                        + SvidSslEngineFactory.class.getName(),
                configError(noOwnId));
        Map<String, Object> badOwnId = config(dir("broker"), "example.org", null);
        badOwnId.put(SvidSslEngineFactory.SVID_SPIFFE_ID_CONFIG, "spiffe://example.org/");
        assertEquals(
                "Invalid value spiffe://example.org/ for configuration mayfly.svid.spiffe.id: "
                        + "path cannot have a trailing slash: \"spiffe://example.org/\"",
                configError(badOwnId));
        Map<String, Object> notOurs = config(dir("broker"), "example.org", null);
        notOurs.put(SvidSslEngineFactory.SVID_SPIFFE_ID_CONFIG, TestSvids.CLIENT_ID);
        assertEquals(
                "Invalid value "
                        + dir("broker")
                        + " for configuration mayfly.svid.dir: no usable SVID: svid.pem of version"
                        + " ..v1 is for spiffe://example.org/kafka/broker, not "
                        + TestSvids.CLIENT_ID
                        + " (mayfly.svid.spiffe.id)",
                configError(notOurs));
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
