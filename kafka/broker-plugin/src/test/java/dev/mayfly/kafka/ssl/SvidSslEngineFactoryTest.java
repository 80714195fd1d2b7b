// SvidSslEngineFactory: configuration, in-memory TLS handshakes between
// engines of two factories (mutual SVIDs, a refused trust domain, a rotation
// of the server's SVID and of the client's bundle picked up by the next
// engine), Kafka's keystore()/truststore() views, and Kafka's own SslFactory
// driving the class as a broker listener and a Java client do.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.TestSvids.certs;
import static dev.mayfly.kafka.ssl.TestSvids.config;
import static dev.mayfly.kafka.ssl.TestSvids.factory;
import static dev.mayfly.kafka.ssl.TestSvids.idOf;
import static dev.mayfly.kafka.ssl.TestSvids.publish;
import static dev.mayfly.kafka.ssl.TestSvids.resource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mayfly.kafka.spiffe.TrustDomain;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.network.ConnectionMode;
import org.apache.kafka.common.security.ssl.SslFactory;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLHandshakeException;

class SvidSslEngineFactoryTest {
    @TempDir Path tmp;

    private Path dir(String name) {
        return tmp.resolve(name);
    }

    private static X509Certificate peerLeaf(SSLEngine e) throws Exception {
        return (X509Certificate) e.getSession().getPeerCertificates()[0];
    }

    // The exception chain's messages, joined, to find the trust manager's reason.
    private static String reasons(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c.getMessage()).append(" | ");
        }
        return sb.toString();
    }

    @Test
    void mutualHandshakeBetweenTwoSvidsOfOneTrustDomain() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        publish(dir("client"), "v1", "client", "bundle_a.pem");
        SvidSslEngineFactory server = factory(dir("broker"), "example.org", null);
        SvidSslEngineFactory client = factory(dir("client"), "example.org", TestSvids.BROKER_ID);
        SSLEngine s = server.createServerSslEngine("127.0.0.1", 9093);
        SSLEngine c = client.createClientSslEngine("broker.invalid", 9093, "https");
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
        publish(dir("broker"), "v1", svid, "bundle_a.pem");
        publish(dir("client"), "v1", "client", "bundle_a.pem");
        SvidSslEngineFactory server = factory(dir("broker"), "example.org", null);
        SSLEngine c =
                factory(dir("client"), "example.org", null)
                        .createClientSslEngine("127.0.0.1", 9093, null);
        Handshake.run(c, server.createServerSslEngine("127.0.0.1", 9093));
        assertEquals(certs(svid + "/svid.pem").get(0), peerLeaf(c));
    }

    @Test
    void serverRefusesAClientOfAnotherTrustDomain() throws Exception {
        // Both sides trust both roots; only the server's trust domain list refuses.
        publish(dir("broker"), "v1", "broker", "bundle_a.pem", "bundle_other.pem");
        publish(dir("other"), "v1", "other", "bundle_other.pem", "bundle_a.pem");
        SvidSslEngineFactory server = factory(dir("broker"), "example.org", null);
        SvidSslEngineFactory client = factory(dir("other"), "other.org,example.org", null);
        SSLEngine s = server.createServerSslEngine("127.0.0.1", 9093);
        SSLEngine c = client.createClientSslEngine("127.0.0.1", 9093, null);
        SSLHandshakeException e =
                assertThrows(SSLHandshakeException.class, () -> Handshake.run(c, s));
        assertTrue(
                reasons(e)
                        .contains(
                                "peer SPIFFE ID spiffe://other.org/orders/writer is not in an"
                                        + " allowed trust domain [example.org]"),
                reasons(e));
    }

    @Test
    void serverRefusesAClientWithoutCertificate() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        SvidSslEngineFactory server = factory(dir("broker"), "example.org", null);
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
        SSLHandshakeException e =
                assertThrows(
                        SSLHandshakeException.class,
                        () -> Handshake.run(c, server.createServerSslEngine("127.0.0.1", 9093)));
        assertTrue(reasons(e).contains("Empty client certificate chain"), reasons(e));
    }

    @Test
    void withAPolicyTheServerRefusesAClientItDenies() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        publish(dir("client"), "v1", "client", "bundle_a.pem");
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
        SvidSslEngineFactory client = factory(dir("client"), "example.org", null);
        SSLHandshakeException e =
                assertThrows(
                        SSLHandshakeException.class,
                        () ->
                                Handshake.run(
                                        client.createClientSslEngine("127.0.0.1", 9093, null),
                                        server.createServerSslEngine("127.0.0.1", 9093)));
        assertTrue(
                reasons(e)
                        .contains(
                                "SPIFFE ID spiffe://example.org/orders/writer is denied by the"
                                        + " policy: unmapped"),
                reasons(e));
        // The broker's own ID maps: accepted.
        SvidSslEngineFactory self = factory(dir("broker"), "example.org", null);
        Handshake.run(
                self.createClientSslEngine("127.0.0.1", 9093, null),
                server.createServerSslEngine("127.0.0.1", 9093));
    }

    @Test
    void clientRefusesABrokerNotInPeerIds() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        publish(dir("client"), "v1", "client", "bundle_a.pem");
        SvidSslEngineFactory server = factory(dir("broker"), "example.org", null);
        SvidSslEngineFactory client =
                factory(dir("client"), "example.org", "spiffe://example.org/kafka/other");
        SSLHandshakeException e =
                assertThrows(
                        SSLHandshakeException.class,
                        () ->
                                Handshake.run(
                                        client.createClientSslEngine("127.0.0.1", 9093, null),
                                        server.createServerSslEngine("127.0.0.1", 9093)));
        assertTrue(reasons(e).contains("is not one of mayfly.peer.spiffe.ids"), reasons(e));
    }

    @Test
    void nextEngineUsesTheNewSvidAndBundle() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        publish(dir("client"), "v1", "client", "bundle_a.pem");
        SvidSslEngineFactory server = factory(dir("broker"), "example.org", null);
        SvidSslEngineFactory client = factory(dir("client"), "example.org", null);
        SSLEngine before = client.createClientSslEngine("127.0.0.1", 9093, null);
        Handshake.run(before, server.createServerSslEngine("127.0.0.1", 9093));
        assertEquals(certs("broker/svid.pem").get(0), peerLeaf(before));

        // Root rotation: the broker moves to a leaf under root B, with both roots.
        publish(dir("broker"), "v2", "broker_b", "bundle_ab.pem");
        // The client still trusts root A only: its next engine refuses the new leaf.
        SSLHandshakeException e =
                assertThrows(
                        SSLHandshakeException.class,
                        () ->
                                Handshake.run(
                                        client.createClientSslEngine("127.0.0.1", 9093, null),
                                        server.createServerSslEngine("127.0.0.1", 9093)));
        assertTrue(
                reasons(e)
                        .contains(
                                "peer chain does not validate against the trust bundle (1 roots)"),
                reasons(e));
        // Its bundle gains root B: the next engine accepts the broker's new SVID.
        publish(dir("client"), "v2", "client", "bundle_ab.pem");
        SSLEngine after = client.createClientSslEngine("127.0.0.1", 9093, null);
        SSLEngine serverAfter = server.createServerSslEngine("127.0.0.1", 9093);
        Handshake.run(after, serverAfter);
        assertEquals(certs("broker_b/svid.pem").get(0), peerLeaf(after));
        assertEquals(TestSvids.CLIENT_ID, idOf(peerLeaf(serverAfter)));
        assertEquals("..v2", server.currentSvid().version());
        // The engine made before the swap keeps the session it had.
        assertEquals(certs("broker/svid.pem").get(0), peerLeaf(before));
    }

    @Test
    void aBadVersionLeavesEnginesOnTheLastGoodSvid() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        publish(dir("client"), "v1", "client", "bundle_a.pem");
        SvidSslEngineFactory server = factory(dir("broker"), "example.org", null);
        SvidSslEngineFactory client = factory(dir("client"), "example.org", null);
        publish(
                dir("broker"),
                "v2",
                resource("broker_b/svid.pem"),
                resource("broker/svid_key.pem"),
                resource("bundle_ab.pem"));
        SSLEngine c = client.createClientSslEngine("127.0.0.1", 9093, null);
        Handshake.run(c, server.createServerSslEngine("127.0.0.1", 9093));
        assertEquals(certs("broker/svid.pem").get(0), peerLeaf(c));
        assertEquals("..v1", server.currentSvid().version());
    }

    @Test
    void severalRootsInTheServersBundle() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_ab.pem");
        publish(dir("a"), "v1", "client", "bundle_a.pem");
        publish(dir("b"), "v1", "client_b", "bundle_ab.pem");
        SvidSslEngineFactory server = factory(dir("broker"), "example.org", null);
        for (String name : new String[] {"a", "b"}) {
            SSLEngine s = server.createServerSslEngine("127.0.0.1", 9093);
            Handshake.run(
                    factory(dir(name), "example.org", null)
                            .createClientSslEngine("127.0.0.1", 9093, null),
                    s);
            assertEquals(
                    name.equals("a") ? TestSvids.CLIENT_ID : TestSvids.CLIENT_B_ID,
                    idOf(peerLeaf(s)));
        }
        assertEquals(2, Collections.list(server.truststore().aliases()).size());
    }

    @Test
    void keystoreAndTruststoreHoldTheCurrentSet() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        SvidSslEngineFactory f = factory(dir("broker"), "example.org", null);
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
        publish(dir("client"), "v1", "client", "bundle_a.pem");
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
        SSLEngine c =
                factory(dir("client"), "example.org", null)
                        .createClientSslEngine("127.0.0.1", 9093, null);
        Handshake.run(c, s);
        assertEquals("TLSv1.2", c.getSession().getProtocol());
        assertEquals("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", c.getSession().getCipherSuite());
        assertEquals(TestSvids.CLIENT_ID, idOf(peerLeaf(s)));
    }

    @Test
    void shouldBeRebuiltOnlyWhenItsOwnSettingsChange() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        SvidSslEngineFactory f = factory(dir("broker"), "example.org", null);
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

    // Kafka's SslFactory as an inter-broker listener builds it: a server
    // factory that must complete a handshake with itself at configure time.
    @Test
    void kafkaSslFactoryValidatesItAsABrokerListener() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        Map<String, Object> c = config(dir("broker"), "example.org", null);
        c.put(SslConfigs.SSL_ENGINE_FACTORY_CLASS_CONFIG, SvidSslEngineFactory.class);
        SslFactory kafka = new SslFactory(ConnectionMode.SERVER, null, true);
        kafka.configure(new HashMap<>(c));
        assertTrue(kafka.sslEngineFactory() instanceof SvidSslEngineFactory);
        SSLEngine s = kafka.createSslEngine("127.0.0.1", 9093);
        assertTrue(s.getNeedClientAuth());
        kafka.close();

        // The broker's own ID outside its peer list: the self-check fails loudly.
        Map<String, Object> strict = config(dir("broker"), "example.org", TestSvids.CLIENT_ID);
        strict.put(SslConfigs.SSL_ENGINE_FACTORY_CLASS_CONFIG, SvidSslEngineFactory.class);
        ConfigException e =
                assertThrows(
                        ConfigException.class,
                        () ->
                                new SslFactory(ConnectionMode.SERVER, null, true)
                                        .configure(new HashMap<>(strict)));
        assertTrue(e.getMessage().contains("can't connect to a server SSLEngine"), e.getMessage());
    }

    // Kafka's SslFactory on both ends, as a Java client and a broker listener
    // use it; the client keeps Kafka's default hostname check setting (https),
    // which must not apply: the broker's SVID names no host.
    @Test
    void kafkaSslFactoriesHandshakeWithoutAHostnameCheck() throws Exception {
        publish(dir("broker"), "v1", "broker", "bundle_a.pem");
        publish(dir("client"), "v1", "client", "bundle_a.pem");
        Map<String, Object> sc = config(dir("broker"), "example.org", null);
        sc.put(SslConfigs.SSL_ENGINE_FACTORY_CLASS_CONFIG, SvidSslEngineFactory.class);
        Map<String, Object> cc = config(dir("client"), "example.org", TestSvids.BROKER_ID);
        cc.put(SslConfigs.SSL_ENGINE_FACTORY_CLASS_CONFIG, SvidSslEngineFactory.class);
        cc.put(SslConfigs.SSL_ENDPOINT_IDENTIFICATION_ALGORITHM_CONFIG, "https");
        SslFactory server = new SslFactory(ConnectionMode.SERVER, null, true);
        SslFactory client = new SslFactory(ConnectionMode.CLIENT);
        server.configure(new HashMap<>(sc));
        client.configure(new HashMap<>(cc));
        SSLEngine c = client.createSslEngine("broker.example.org", 9093);
        SSLEngine s = server.createSslEngine("127.0.0.1", 50000);
        Handshake.run(c, s);
        assertEquals(TestSvids.BROKER_ID, idOf(peerLeaf(c)));
        assertEquals(TestSvids.CLIENT_ID, idOf(peerLeaf(s)));
        client.close();
        server.close();
    }

    // A Java producer takes the class and the mayfly.* settings from its own
    // properties (they reach the factory through the config originals).
    @Test
    void javaProducerConfiguresIt() throws Exception {
        publish(dir("client"), "v1", "client", "bundle_a.pem");
        Properties p = new Properties();
        p.put("bootstrap.servers", "127.0.0.1:1");
        p.put("security.protocol", "SSL");
        p.put(SslConfigs.SSL_ENGINE_FACTORY_CLASS_CONFIG, SvidSslEngineFactory.class.getName());
        p.put(SvidSslEngineFactory.SVID_DIR_CONFIG, dir("client").toString());
        p.put(SvidSslEngineFactory.TRUST_DOMAINS_CONFIG, "example.org");
        p.put(SvidSslEngineFactory.PEER_SPIFFE_IDS_CONFIG, TestSvids.BROKER_ID);
        new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())
                .close(java.time.Duration.ZERO);

        p.put(SvidSslEngineFactory.SVID_DIR_CONFIG, dir("missing").toString());
        KafkaException e =
                assertThrows(
                        KafkaException.class,
                        () ->
                                new KafkaProducer<>(
                                        p, new ByteArraySerializer(), new ByteArraySerializer()));
        assertTrue(
                reasons(e)
                        .contains(
                                "Invalid value "
                                        + dir("missing")
                                        + " for configuration mayfly.svid.dir"),
                reasons(e));
    }
}
