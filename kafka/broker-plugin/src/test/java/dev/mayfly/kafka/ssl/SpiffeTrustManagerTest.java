// SpiffeTrustManager on fixed SVIDs: PKIX against the roots of the peer's
// own trust domain only (one or several), and the X.509-SVID leaf rules,
// each refusal with its reason.
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

class SpiffeTrustManagerTest {
    // The bundles of `roots`, each root under the trust domain its URI SAN names.
    private static SpiffeTrustManager manager(
            List<X509Certificate> roots, Set<String> tds, Set<SpiffeId> ids) {
        Map<TrustDomain, List<X509Certificate>> bundles = new LinkedHashMap<>();
        for (X509Certificate root : roots) {
            bundles.computeIfAbsent(SvidSet.trustDomainNamedBy(root), td -> new ArrayList<>())
                    .add(root);
        }
        return new SpiffeTrustManager(
                bundles,
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
    void refusesAnAllowedTrustDomainThatHasNoBundle() {
        SpiffeTrustManager tm =
                manager(certs("bundle_a.pem"), Set.of("example.org", "other.org"), Set.of());
        assertEquals(
                "peer SPIFFE ID spiffe://other.org/orders/writer is in trust domain other.org, for"
                        + " which there is no trust bundle (bundles: [example.org])",
                refusal(tm, chain("other")));
    }

    // Reproduced on a live broker: a staging.acme leaf signed by prod.acme's
    // root was accepted, PKIX having run against every root at once.
    @Test
    void aRootDoesNotVouchForAnotherTrustDomainsLeaf() {
        SpiffeTrustManager tm =
                manager(
                        certs("cross/root_prod.acme.pem", "cross/root_staging.acme.pem"),
                        Set.of("prod.acme", "staging.acme"),
                        Set.of());
        assertTrue(
                refusal(tm, chain("cross/staging_by_prod"))
                        .startsWith(
                                "peer chain does not validate against the trust bundle of"
                                        + " staging.acme (1 roots): "));
        // Only prod.acme's bundle: staging.acme has none to chain to.
        SpiffeTrustManager prodOnly =
                manager(
                        certs("cross/root_prod.acme.pem"),
                        Set.of("prod.acme", "staging.acme"),
                        Set.of());
        assertEquals(
                "peer SPIFFE ID spiffe://staging.acme/orders/writer is in trust domain"
                        + " staging.acme, for which there is no trust bundle (bundles:"
                        + " [prod.acme])",
                refusal(prodOnly, chain("cross/staging_by_prod")));
    }

    // Reproduced on a live broker: a root of another trust domain beside
    // prod.acme's could sign spiffe://prod.acme/kafka/broker, a super user.
    @Test
    void anotherTrustDomainsRootCannotSignThisTrustDomainsIds() throws Exception {
        SpiffeTrustManager tm =
                manager(
                        certs("cross/root_prod.acme.pem", "cross/root_staging.acme.pem"),
                        Set.of("prod.acme", "staging.acme"),
                        Set.of());
        assertTrue(
                refusal(tm, chain("cross/broker_by_staging"))
                        .startsWith(
                                "peer chain does not validate against the trust bundle of"
                                        + " prod.acme (1 roots): "));
        // The same ID signed by prod.acme's own root is the broker.
        assertEquals(
                "spiffe://prod.acme/kafka/broker",
                tm.verify(chain("cross/prod_broker")).toString());
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
        assertTrue(
                refusal(onlyA, chain("client_b"))
                        .startsWith(
                                "peer chain does not validate against the trust bundle of"
                                        + " example.org (1 roots)"));
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
