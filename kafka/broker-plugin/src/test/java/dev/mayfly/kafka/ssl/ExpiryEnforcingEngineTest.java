// Expiry enforcement in the server engines SvidSslEngineFactory makes: after
// a real in-memory handshake, client data is read up to the client
// certificate's NotAfter (inclusive) and refused after it, on a fake clock;
// each close is counted, and logged once per certificate.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.TestSvids.config;
import static dev.mayfly.kafka.ssl.TestSvids.factory;
import static dev.mayfly.kafka.ssl.TestSvids.publish;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mayfly.kafka.principal.ExpiryEnforcement;
import dev.mayfly.kafka.testing.FakeClock;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;

class ExpiryEnforcingEngineTest {
    @TempDir Path tmp;

    private final FakeClock clock = new FakeClock(Instant.now());
    private SvidSslEngineFactory server;
    private SSLEngine s;
    private SSLEngine c;
    private Instant clientNotAfter;

    @BeforeEach
    void handshake() throws Exception {
        publish(tmp.resolve("broker"), "v1", "broker", "bundle_a.pem");
        publish(tmp.resolve("client"), "v1", "client", "bundle_a.pem");
        server = new SvidSslEngineFactory(clock);
        server.configure(config(tmp.resolve("broker"), "example.org", null));
        s = server.createServerSslEngine("127.0.0.1", 9093);
        c =
                factory(tmp.resolve("client"), "example.org", null)
                        .createClientSslEngine("127.0.0.1", 9093, null);
        // The handshake itself checks validity on the real clock.
        Handshake.run(c, s);
        clientNotAfter =
                ((X509Certificate) s.getSession().getPeerCertificates()[0])
                        .getNotAfter()
                        .toInstant();
    }

    // The client sends `text`; what the server reads of it.
    private String send(String text) throws SSLException {
        ByteBuffer net = ByteBuffer.allocate(c.getSession().getPacketBufferSize());
        c.wrap(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), net);
        net.flip();
        ByteBuffer app = ByteBuffer.allocate(s.getSession().getApplicationBufferSize());
        s.unwrap(net, app);
        app.flip();
        return StandardCharsets.UTF_8.decode(app).toString();
    }

    @Test
    void servesUpToNotAfterAndNothingAfter() throws Exception {
        assertTrue(s instanceof ExpiryEnforcingEngine);
        assertEquals("request 1", send("request 1"));
        clock.set(clientNotAfter);
        assertEquals("request 2", send("request 2"), "at NotAfter the SVID is still valid");
        long before = ExpiryEnforcement.enforcedCloses();
        clock.set(clientNotAfter.plusMillis(1));
        SSLException e = assertThrows(SSLException.class, () -> send("request 3"));
        assertEquals(
                "client SVID expired at " + clientNotAfter + "; connection closed", e.getMessage());
        // Not a handshake failure: Kafka treats it as a plain read failure.
        assertEquals(SSLException.class, e.getClass());
        assertEquals(before + 1, ExpiryEnforcement.enforcedCloses());
        // Once closed, it stays closed, and is counted once.
        assertThrows(SSLException.class, () -> send("request 4"));
        assertEquals(before + 1, ExpiryEnforcement.enforcedCloses());
    }

    // The server answers `text`: how many bytes of it its engine took.
    private int answer(String text) throws SSLException {
        ByteBuffer net = ByteBuffer.allocate(s.getSession().getPacketBufferSize());
        var r = s.wrap(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), net);
        assertTrue(r.bytesProduced() > r.bytesConsumed(), "a TLS record was written");
        return r.bytesConsumed();
    }

    // Reproduced on a live broker: a Fetch long poll read just before
    // NotAfter was answered after it, with records produced after it.
    @Test
    void noResponseIsWrittenAfterNotAfter() throws Exception {
        assertEquals("request", send("request"));
        clock.set(clientNotAfter);
        assertEquals(10, answer("response 1"), "at NotAfter the SVID is still valid");
        long before = ExpiryEnforcement.enforcedCloses();
        clock.set(clientNotAfter.plusMillis(1));
        ByteBuffer net = ByteBuffer.allocate(s.getSession().getPacketBufferSize());
        ByteBuffer records = ByteBuffer.wrap("records".getBytes(StandardCharsets.UTF_8));
        SSLException e = assertThrows(SSLException.class, () -> s.wrap(records, net));
        assertEquals(
                "client SVID expired at " + clientNotAfter + "; connection closed", e.getMessage());
        assertEquals(0, net.position(), "no byte of the response was produced");
        assertEquals(7, records.remaining(), "nothing of the response was consumed");
        assertEquals(before + 1, ExpiryEnforcement.enforcedCloses());
        // The TLS close still goes out (it carries no application data).
        s.closeOutbound();
        var closed = s.wrap(ByteBuffer.allocate(0), net);
        assertEquals(javax.net.ssl.SSLEngineResult.Status.CLOSED, closed.getStatus());
        assertTrue(net.position() > 0, "close_notify was written");
        assertEquals(before + 1, ExpiryEnforcement.enforcedCloses());
    }

    @Test
    void clientEnginesAreNotWrapped() throws Exception {
        assertFalse(c instanceof ExpiryEnforcingEngine);
    }

    @Test
    void eachCertificateIsLoggedOnce() throws Exception {
        X509Certificate leaf = (X509Certificate) s.getSession().getPeerCertificates()[0];
        Instant later = clientNotAfter.plus(Duration.ofSeconds(1));
        assertTrue(server.logClose(leaf, later, "127.0.0.1:1"));
        assertFalse(server.logClose(leaf, later, "127.0.0.1:2"));
        X509Certificate other = (X509Certificate) c.getSession().getPeerCertificates()[0];
        assertTrue(server.logClose(other, later, "127.0.0.1:3"));
    }

    @Test
    void factoriesKafkaMakesShareTheirLogs() throws Exception {
        // The broker makes a factory per listener and network thread; a close
        // is logged once whichever of them sees it. (A leaf no other test logs.)
        X509Certificate leaf = TestSvids.certs("no_key_usage/svid.pem").get(0);
        SvidSslEngineFactory a = new SvidSslEngineFactory();
        SvidSslEngineFactory b = new SvidSslEngineFactory();
        a.configure(config(tmp.resolve("broker"), "example.org", null));
        b.configure(config(tmp.resolve("broker"), "example.org", null));
        Instant later = leaf.getNotAfter().toInstant().plusSeconds(1);
        assertTrue(a.logClose(leaf, later, "127.0.0.1:1"));
        assertFalse(b.logClose(leaf, later, "127.0.0.1:2"));
    }

    @Test
    void aBadPolicyFileIsAConfigError() {
        Map<String, Object> conf = config(tmp.resolve("broker"), "example.org", null);
        conf.put(SvidSslEngineFactory.POLICY_FILE_CONFIG, tmp.resolve("missing.yaml").toString());
        var e =
                assertThrows(
                        org.apache.kafka.common.config.ConfigException.class,
                        () -> new SvidSslEngineFactory(clock).configure(conf));
        assertTrue(e.getMessage().contains("mayfly.policy.file"), e.getMessage());
    }
}
