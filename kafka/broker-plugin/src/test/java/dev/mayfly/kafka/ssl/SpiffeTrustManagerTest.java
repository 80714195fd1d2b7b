// SpiffeTrustManager on fixed SVIDs: PKIX against one or several roots, and
// the X.509-SVID leaf rules, each refusal with its reason.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.TestSvids.certs;
import static dev.mayfly.kafka.ssl.TestSvids.chain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mayfly.kafka.spiffe.InvalidSpiffeIdException;
import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.spiffe.TrustDomain;
import dev.mayfly.kafka.testing.TestCerts;

import org.junit.jupiter.api.Test;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

class SpiffeTrustManagerTest {
    private static SpiffeTrustManager manager(
            List<X509Certificate> roots, Set<String> tds, Set<SpiffeId> ids) {
        return new SpiffeTrustManager(
                roots,
                tds.stream().map(SpiffeTrustManagerTest::trustDomain).collect(Collectors.toSet()),
                ids);
    }

    private static TrustDomain trustDomain(String name) {
        try {
            return TrustDomain.fromString(name);
        } catch (InvalidSpiffeIdException e) {
            throw new AssertionError(e);
        }
    }

    private static String refusal(SpiffeTrustManager tm, X509Certificate[] chain) {
        return assertThrows(CertificateException.class, () -> tm.checkClientTrusted(chain, "EC"))
                .getMessage();
    }

    @Test
    void acceptsAnAllowedId() throws Exception {
        SpiffeTrustManager tm = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        assertEquals(TestSvids.CLIENT_ID, tm.verify(chain("client")).toString());
        tm.checkServerTrusted(chain("broker"), "EC");
        tm.checkClientTrusted(chain("client"), "EC");
    }

    @Test
    void acceptsAChainThatEndsWithItsRoot() throws Exception {
        List<X509Certificate> withRoot = new ArrayList<>(List.of(chain("client")));
        withRoot.addAll(certs("bundle_a.pem"));
        SpiffeTrustManager tm = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        assertEquals(
                TestSvids.CLIENT_ID,
                tm.verify(withRoot.toArray(new X509Certificate[0])).toString());
    }

    @Test
    void refusesAnotherTrustDomain() {
        // Both roots are anchors, so PKIX passes and the trust domain rule is what refuses.
        SpiffeTrustManager tm =
                manager(certs("bundle_a.pem", "bundle_other.pem"), Set.of("example.org"), Set.of());
        assertEquals(
                "peer SPIFFE ID spiffe://other.org/orders/writer is not in an allowed trust domain "
                        + "[example.org]",
                refusal(tm, chain("other")));
    }

    @Test
    void acceptsAnotherTrustDomainOnceAllowed() throws Exception {
        SpiffeTrustManager tm =
                manager(
                        certs("bundle_a.pem", "bundle_other.pem"),
                        Set.of("example.org", "other.org"),
                        Set.of());
        assertEquals(TestSvids.OTHER_ID, tm.verify(chain("other")).toString());
    }

    @Test
    void refusesAChainFromARootOutsideTheBundle() {
        SpiffeTrustManager tm =
                manager(certs("bundle_a.pem"), Set.of("example.org", "other.org"), Set.of());
        assertTrue(
                refusal(tm, chain("other"))
                        .startsWith(
                                "peer chain does not validate against the trust bundle (1 roots)"));
    }

    @Test
    void refusesTwoUriSans() {
        SpiffeTrustManager tm = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        assertEquals(
                "peer leaf must have exactly one URI SAN (X509-SVID 2), has 2: "
                        + "[spiffe://example.org/a, spiffe://example.org/b]",
                refusal(tm, chain("two_uris")));
    }

    @Test
    void refusesNoUriSan() {
        SpiffeTrustManager tm = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        assertEquals(
                "peer leaf must have exactly one URI SAN (X509-SVID 2), has 0",
                refusal(tm, chain("no_uri")));
    }

    @Test
    void refusesAUriSanThatIsNotASpiffeId() {
        assertEquals(
                "peer URI SAN is not a valid SPIFFE ID: path cannot have a trailing slash: "
                        + "\"spiffe://prod.acme/ns/orders/sa/writer/\"",
                assertThrows(
                                CertificateException.class,
                                () -> SpiffeTrustManager.spiffeIdOf(TestCerts.load("bad_uri")))
                        .getMessage());
    }

    @Test
    void refusesACaLeaf() {
        SpiffeTrustManager tm = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        assertEquals(
                "peer leaf certificate must not be a CA (basicConstraints cA=true)",
                refusal(tm, chain("ca_leaf")));
    }

    @Test
    void refusesALeafWithoutKeyUsage() {
        // As X509Svid and mayfly's C++ verifier do (X509-SVID 4.3).
        SpiffeTrustManager tm = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        assertEquals(
                "peer leaf certificate must have a keyUsage extension",
                refusal(tm, chain("no_key_usage")));
    }

    @Test
    void extendedKeyUsageMustAllowThePeersRole() throws Exception {
        SpiffeTrustManager tm = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        tm.checkServerTrusted(chain("server_only"), "EC");
        assertEquals(
                "peer leaf's extendedKeyUsage does not allow clientAuth",
                refusal(tm, chain("server_only")));
    }

    @Test
    void peerIdsListRestrictsToExactIds() throws Exception {
        SpiffeTrustManager tm =
                manager(
                        certs("bundle_a.pem"),
                        Set.of("example.org"),
                        Set.of(SpiffeId.fromString(TestSvids.BROKER_ID)));
        assertEquals(TestSvids.BROKER_ID, tm.verify(chain("broker")).toString());
        assertEquals(
                "peer SPIFFE ID spiffe://example.org/orders/writer is not one of"
                        + " mayfly.peer.spiffe.ids",
                refusal(tm, chain("client")));
    }

    @Test
    void severalRootsAreAllAnchors() throws Exception {
        // client_b chains to root B only, client to root A only.
        SpiffeTrustManager onlyA = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        assertTrue(refusal(onlyA, chain("client_b")).startsWith("peer chain does not validate"));
        SpiffeTrustManager both = manager(certs("bundle_ab.pem"), Set.of("example.org"), Set.of());
        assertEquals(2, certs("bundle_ab.pem").size());
        assertEquals(TestSvids.CLIENT_B_ID, both.verify(chain("client_b")).toString());
        assertEquals(TestSvids.CLIENT_ID, both.verify(chain("client")).toString());
    }

    @Test
    void refusesAnEmptyChainAndAdvertisesNoIssuers() {
        SpiffeTrustManager tm = manager(certs("bundle_a.pem"), Set.of("example.org"), Set.of());
        assertEquals("peer sent no certificate", refusal(tm, new X509Certificate[0]));
        assertEquals(0, tm.getAcceptedIssuers().length);
    }
}
