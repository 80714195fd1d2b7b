// Kafka's own SslFactory driving SvidSslEngineFactory as a broker listener
// and a Java client do: the listener's configure-time self-check, a
// handshake between two SslFactory engines with Kafka's default hostname
// check setting, and a KafkaProducer taking the class and the mayfly.*
// settings from its properties.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.Handshake.peerLeaf;
import static dev.mayfly.kafka.ssl.Handshake.reasons;
import static dev.mayfly.kafka.ssl.TestSvids.config;
import static dev.mayfly.kafka.ssl.TestSvids.idOf;
import static dev.mayfly.kafka.ssl.TestSvids.publish;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.network.ConnectionMode;
import org.apache.kafka.common.security.ssl.SslFactory;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;

import javax.net.ssl.SSLEngine;

class KafkaSslFactoryTest {
    @TempDir Path tmp;

    private Path dir(String name) {
        return tmp.resolve(name);
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
        p.put(SvidSslEngineFactory.SVID_SPIFFE_ID_CONFIG, TestSvids.CLIENT_ID);
        p.put(SvidSslEngineFactory.PEER_SPIFFE_IDS_CONFIG, TestSvids.BROKER_ID);
        new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())
                .close(java.time.Duration.ZERO);

        // Without the broker's ID, any workload of example.org could pose as
        // the broker: the producer is refused at construction, naming why.
        Properties open = new Properties();
        open.putAll(p);
        open.remove(SvidSslEngineFactory.PEER_SPIFFE_IDS_CONFIG);
        KafkaException noPeers =
                assertThrows(
                        KafkaException.class,
                        () ->
                                new KafkaProducer<>(
                                        open,
                                        new ByteArraySerializer(),
                                        new ByteArraySerializer()));
        assertTrue(
                reasons(noPeers)
                        .contains(
                                "Invalid value null for configuration mayfly.peer.spiffe.ids: is"
                                        + " required by "
                                        + SvidSslEngineFactory.class.getName()
                                        + " unless mayfly.policy.file names a policy with"
                                        + " brokers: the SPIFFE IDs of the brokers"),
                reasons(noPeers));

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
