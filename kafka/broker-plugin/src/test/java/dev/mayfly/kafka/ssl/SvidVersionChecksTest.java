// What SvidSslEngineFactory refuses to switch to, each reproduced on a live
// broker: a FIFO in place of a file (which hung every new handshake), an
// SVID of another workload, an expired or not yet valid one, files that
// are not regular files, a ..data link out of the directory. Each refused
// version is counted once and the last good SVID keeps serving.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.Handshake.peerLeaf;
import static dev.mayfly.kafka.ssl.TestSvids.certs;
import static dev.mayfly.kafka.ssl.TestSvids.config;
import static dev.mayfly.kafka.ssl.TestSvids.publish;
import static dev.mayfly.kafka.ssl.TestSvids.resource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.testing.FakeClock;

import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;

class SvidVersionChecksTest {
    // A refresh that blocks on a FIFO never returns; far longer than a load.
    private static final Duration NO_HANG = Duration.ofSeconds(10);

    @TempDir Path tmp;

    private final FakeClock clock = new FakeClock(Instant.now());
    private SvidSslEngineFactory broker;
    private Path dir;

    @BeforeEach
    void brokerOnV1() throws Exception {
        dir = tmp.resolve("broker");
        publish(dir, "v1", "broker", "bundle_a.pem");
        broker = new SvidSslEngineFactory(clock);
        broker.configure(config(dir, TestSvids.TD, null));
    }

    // The next engines still serve v1, and one refusal was counted.
    private void keepsV1() throws Exception {
        assertEquals("..v1", broker.currentSvid().version());
        assertEquals("..v1", broker.currentSvid().version());
        assertEquals(1, broker.refusedVersions());
        publish(tmp.resolve("client"), "v1", "client", "bundle_a.pem");
        SvidSslEngineFactory client = TestSvids.factory(tmp.resolve("client"), TestSvids.TD, null);
        X509Certificate served = peerLeaf(Handshake.between(client, broker).client());
        assertEquals(certs("broker/svid.pem").get(0), served);
    }

    private static void mkfifo(Path p) throws Exception {
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertEquals(0, mk.waitFor(), "mkfifo " + p);
    }

    @Test
    void aFifoInPlaceOfTheBundleIsRefusedWithoutBlocking() throws Exception {
        publish(dir, "v2", resource("broker_b/svid.pem"), resource("broker_b/svid_key.pem"), null);
        mkfifo(dir.resolve("..v2/svid_bundle.pem"));
        assertTimeoutPreemptively(NO_HANG, this::keepsV1);
        SvidSet.LoadException e =
                assertThrows(
                        SvidSet.LoadException.class,
                        () -> SvidSet.load(dir.resolve("..v2"), "..v2"));
        assertEquals(
                dir.resolve("..v2/svid_bundle.pem")
                        + ": not a regular file (a FIFO, socket or device)",
                e.getMessage());
    }

    @Test
    void aFifoAtStartIsAConfigErrorNotAHang() throws Exception {
        Path d = tmp.resolve("fifo");
        publish(d, "v1", resource("broker/svid.pem"), null, resource("bundle_a.pem"));
        mkfifo(d.resolve("..v1/svid_key.pem"));
        ConfigException e =
                assertTimeoutPreemptively(
                        NO_HANG,
                        () ->
                                assertThrows(
                                        ConfigException.class,
                                        () ->
                                                new SvidSslEngineFactory(clock)
                                                        .configure(config(d, TestSvids.TD, null))));
        assertEquals(
                "Invalid value "
                        + d
                        + " for configuration mayfly.svid.dir: no usable SVID: "
                        + d.resolve("..v1/svid_key.pem")
                        + ": not a regular file (a FIFO, socket or device)",
                e.getMessage());
    }

    @Test
    void aSymlinkInAVersionIsRefused() throws Exception {
        publish(dir, "v2", resource("broker_b/svid.pem"), null, resource("bundle_ab.pem"));
        // A link to the matching key: followed, the version would load.
        Path key = Files.write(tmp.resolve("broker_b_key.pem"), resource("broker_b/svid_key.pem"));
        Files.createSymbolicLink(dir.resolve("..v2/svid_key.pem"), key);
        keepsV1();
        assertEquals(
                dir.resolve("..v2/svid_key.pem") + ": not a regular file (a symlink)",
                assertThrows(
                                SvidSet.LoadException.class,
                                () -> SvidSet.load(dir.resolve("..v2"), "..v2"))
                        .getMessage());
    }

    @Test
    void aDataLinkOutOfTheDirectoryIsRefused() throws Exception {
        Path elsewhere = tmp.resolve("elsewhere");
        publish(elsewhere, "v9", "broker_b", "bundle_ab.pem");
        Path link = dir.resolve("..data_tmp");
        Files.createSymbolicLink(link, elsewhere.resolve("..v9"));
        Files.move(
                link,
                dir.resolve("..data"),
                StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        keepsV1();
    }

    @Test
    void anotherWorkloadsSvidIsRefused() throws Exception {
        publish(dir, "v2", "client", "bundle_a.pem");
        keepsV1();
        SvidSet v2 = SvidSet.load(dir.resolve("..v2"), "..v2");
        assertEquals(
                "svid.pem of version ..v2 is for spiffe://example.org/orders/writer, not"
                        + " spiffe://example.org/kafka/broker (mayfly.svid.spiffe.id)",
                assertThrows(
                                SvidSet.LoadException.class,
                                () ->
                                        v2.checkUsable(
                                                SpiffeId.fromString(TestSvids.BROKER_ID),
                                                clock.instant()))
                        .getMessage());
    }

    @Test
    void aLeafWithoutASpiffeIdIsRefused() throws Exception {
        publish(dir, "v2", "no_uri", "bundle_a.pem");
        keepsV1();
        assertEquals(
                dir.resolve("..v2/svid.pem")
                        + ": not an X.509-SVID: leaf must have exactly one URI SAN (X509-SVID 2),"
                        + " has 0",
                assertThrows(
                                SvidSet.LoadException.class,
                                () -> SvidSet.load(dir.resolve("..v2"), "..v2"))
                        .getMessage());
    }

    @Test
    void anExpiredSvidIsRefused() throws Exception {
        Instant notAfter = certs("broker_b/svid.pem").get(0).getNotAfter().toInstant();
        // NotAfter itself is expired, as VerifyX509Svid and OpenSSL count it.
        clock.set(notAfter);
        publish(dir, "v2", "broker_b", "bundle_ab.pem");
        assertEquals("..v1", broker.currentSvid().version());
        assertEquals(1, broker.refusedVersions());
        SvidSet v2 = SvidSet.load(dir.resolve("..v2"), "..v2");
        assertEquals(
                "svid.pem of version ..v2 has expired: NotAfter " + notAfter + ", now " + notAfter,
                assertThrows(
                                SvidSet.LoadException.class,
                                () ->
                                        v2.checkUsable(
                                                SpiffeId.fromString(TestSvids.BROKER_ID), notAfter))
                        .getMessage());
        // One instant earlier it is the broker's SVID.
        v2.checkUsable(SpiffeId.fromString(TestSvids.BROKER_ID), notAfter.minusMillis(1));
    }

    @Test
    void aNotYetValidSvidIsRefused() throws Exception {
        Instant notBefore = certs("broker_b/svid.pem").get(0).getNotBefore().toInstant();
        Instant early = notBefore.minusSeconds(1);
        clock.set(early);
        publish(dir, "v2", "broker_b", "bundle_ab.pem");
        assertEquals("..v1", broker.currentSvid().version());
        assertEquals(1, broker.refusedVersions());
        SvidSet v2 = SvidSet.load(dir.resolve("..v2"), "..v2");
        assertEquals(
                "svid.pem of version ..v2 is not valid yet: NotBefore "
                        + notBefore
                        + ", now "
                        + early,
                assertThrows(
                                SvidSet.LoadException.class,
                                () ->
                                        v2.checkUsable(
                                                SpiffeId.fromString(TestSvids.BROKER_ID), early))
                        .getMessage());
        v2.checkUsable(SpiffeId.fromString(TestSvids.BROKER_ID), notBefore);
    }

    @Test
    void aRefusalIsLoggedOnceAtWarnWithItsReason() throws Exception {
        publish(dir, "v2", "client", "bundle_a.pem");
        // slf4j-simple (the tests' binding) writes to whatever System.err is.
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, "UTF-8"));
        try {
            for (int i = 0; i < 5; i++) {
                broker.createServerSslEngine("127.0.0.1", 9093);
            }
        } finally {
            System.setErr(err);
        }
        String log = captured.toString("UTF-8");
        String line =
                "WARN dev.mayfly.kafka.ssl.SvidDirectory - Refusing SVID version ..v2 in "
                        + dir
                        + ", keeping version ..v1: svid.pem of version ..v2 is for"
                        + " spiffe://example.org/orders/writer, not"
                        + " spiffe://example.org/kafka/broker (mayfly.svid.spiffe.id)";
        assertEquals(1, log.split(java.util.regex.Pattern.quote(line), -1).length - 1, log);
        assertEquals(1, broker.refusedVersions());
    }

    @Test
    void aGoodVersionAfterARefusedOneIsUsed() throws Exception {
        publish(dir, "v2", "client", "bundle_a.pem");
        assertEquals("..v1", broker.currentSvid().version());
        publish(dir, "v3", "broker_b", "bundle_ab.pem");
        assertEquals("..v3", broker.currentSvid().version());
        assertEquals(1, broker.refusedVersions());
    }
}
