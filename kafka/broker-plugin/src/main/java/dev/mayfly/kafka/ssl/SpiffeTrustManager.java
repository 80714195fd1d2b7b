// Peer verification by the SPIFFE X.509-SVID rules (X509-SVID.md): the
// peer's SPIFFE ID picks the trust bundle, and its chain must validate with
// PKIX against the roots of that one bundle (any of them: during a root
// rotation a bundle holds several), as identity/x509_verify.cc does with
// the X509Bundle of the ID's trust domain. A root never vouches for an ID
// outside its own trust domain, so a bundle of one trust domain cannot make
// a leaf of another valid. No hostname check and no revocation (SVIDs are
// short-lived instead). The leaf must not be a CA, must have a keyUsage for
// signatures only (X509Svid.checkLeafUsage) and (if it has an extended key
// usage) be usable for its TLS role, and must carry exactly one URI SAN: a
// valid SPIFFE ID in an allowed trust domain, and one of the allowed IDs
// when a list is given. IDs are parsed by dev.mayfly.kafka.spiffe (the port
// of identity/spiffe_id.cc). Immutable and thread-safe.
package dev.mayfly.kafka.ssl;

import dev.mayfly.kafka.spiffe.InvalidSpiffeIdException;
import dev.mayfly.kafka.spiffe.InvalidSvidException;
import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.spiffe.TrustDomain;
import dev.mayfly.kafka.spiffe.X509Svid;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/** Trusts a peer whose X.509-SVID chains to the bundle and whose SPIFFE ID is allowed. */
public final class SpiffeTrustManager extends X509ExtendedTrustManager {
    // RFC 5280 4.2.1.12: the TLS roles, and anyExtendedKeyUsage.
    static final String EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    static final String EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
    private static final String EKU_ANY = "2.5.29.37.0";

    private final Map<TrustDomain, Bundle> bundles;
    private final Set<TrustDomain> trustDomains;
    private final PeerCheck peerCheck; // null: any ID of trustDomains
    private final ClientCheck clientCheck; // null: none

    /** Which IDs a peer may have beyond its trust domain: the brokers a client may reach. */
    @FunctionalInterface
    public interface PeerCheck {
        /** Why a peer with {@code id} is refused, or null. */
        String refusal(SpiffeId id);

        /**
         * Only the IDs in {@code ids}, named {@code source} in the refusal
         * ("mayfly.peer.spiffe.ids").
         */
        static PeerCheck oneOf(Set<SpiffeId> ids, String source) {
            Set<SpiffeId> copy = Set.copyOf(ids);
            return id ->
                    copy.contains(id) ? null : "peer SPIFFE ID " + id + " is not one of " + source;
        }
    }

    /** A further check of a client (the broker's policy); what {@code verify} leaves. */
    @FunctionalInterface
    public interface ClientCheck {
        /** Why the client with {@code id} (leaf {@code leaf}) is refused, or null. */
        String refusal(SpiffeId id, X509Certificate leaf);
    }

    // The roots of one trust domain, and the same as PKIX anchors.
    private static final class Bundle {
        final List<X509Certificate> roots;
        final Set<TrustAnchor> anchors;

        Bundle(List<X509Certificate> roots) {
            this.roots = List.copyOf(roots);
            Set<TrustAnchor> a = new HashSet<>();
            for (X509Certificate root : roots) {
                a.add(new TrustAnchor(root, null));
            }
            this.anchors = Set.copyOf(a);
        }
    }

    /**
     * @param bundles the roots of each trust domain (X509Bundle per trust domain in C++); a peer is
     *     verified against its own trust domain's roots only
     * @param trustDomains trust domains a peer's ID may be in (non-empty)
     * @param peerIds if non-empty, the only IDs a peer may have
     */
    public SpiffeTrustManager(
            Map<TrustDomain, List<X509Certificate>> bundles,
            Set<TrustDomain> trustDomains,
            Set<SpiffeId> peerIds) {
        this(
                bundles,
                trustDomains,
                peerIds.isEmpty() ? null : PeerCheck.oneOf(peerIds, "mayfly.peer.spiffe.ids"),
                null);
    }

    /**
     * As above with the peer's ID checked by {@code peerCheck} (null: any ID of the trust domains),
     * and a client (server side) must also pass {@code clientCheck} if not null.
     */
    public SpiffeTrustManager(
            Map<TrustDomain, List<X509Certificate>> bundles,
            Set<TrustDomain> trustDomains,
            PeerCheck peerCheck,
            ClientCheck clientCheck) {
        this.peerCheck = peerCheck;
        this.clientCheck = clientCheck;
        if (bundles.isEmpty()) {
            throw new IllegalArgumentException("there is no trust bundle");
        }
        if (trustDomains.isEmpty()) {
            throw new IllegalArgumentException("no trust domain is allowed");
        }
        Map<TrustDomain, Bundle> b = new LinkedHashMap<>();
        for (Map.Entry<TrustDomain, List<X509Certificate>> e : bundles.entrySet()) {
            if (e.getValue().isEmpty()) {
                throw new IllegalArgumentException(
                        "the trust bundle of " + e.getKey() + " has no root");
            }
            b.put(e.getKey(), new Bundle(e.getValue()));
        }
        this.bundles = Map.copyOf(b);
        this.trustDomains = Set.copyOf(trustDomains);
    }

    /** Verifies {@code chain} (leaf first) whatever its TLS role; returns the peer's SPIFFE ID. */
    public SpiffeId verify(X509Certificate[] chain) throws CertificateException {
        return verify(chain, null);
    }

    /**
     * Verifies {@code chain} (leaf first) for a TLS role ({@link #EKU_CLIENT_AUTH} or {@link
     * #EKU_SERVER_AUTH}; null for none) and returns the peer's SPIFFE ID.
     */
    public SpiffeId verify(X509Certificate[] chain, String role) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("peer sent no certificate");
        }
        X509Certificate leaf = chain[0];
        // The ID first, as VerifyX509Svid does: it picks the bundle. An ID
        // read before the chain is verified can only make this refuse.
        SpiffeId id = spiffeIdOf(leaf);
        if (!trustDomains.contains(id.trustDomain())) {
            throw new CertificateException(
                    "peer SPIFFE ID "
                            + id
                            + " is not in an allowed trust domain "
                            + sorted(trustDomains));
        }
        Bundle bundle = bundles.get(id.trustDomain());
        if (bundle == null) {
            throw new CertificateException(
                    "peer SPIFFE ID "
                            + id
                            + " is in trust domain "
                            + id.trustDomain()
                            + ", for which there is no trust bundle (bundles: "
                            + sorted(bundles.keySet())
                            + ")");
        }
        validatePath(chain, id.trustDomain(), bundle);
        // The leaf rules the principal builder and mayfly's C++ verifier
        // apply too: not a CA, a keyUsage with digitalSignature and without
        // keyCertSign or cRLSign, an extendedKeyUsage (if any) for TLS.
        try {
            X509Svid.checkLeafUsage(leaf);
        } catch (InvalidSvidException e) {
            throw new CertificateException("peer " + e.getMessage(), e);
        }
        if (role != null) {
            List<String> eku;
            try {
                eku = leaf.getExtendedKeyUsage();
            } catch (CertificateParsingException e) {
                throw new CertificateException(
                        "peer leaf's extendedKeyUsage does not parse: " + e.getMessage());
            }
            if (eku != null && !eku.contains(role) && !eku.contains(EKU_ANY)) {
                throw new CertificateException(
                        "peer leaf's extendedKeyUsage does not allow "
                                + (role.equals(EKU_CLIENT_AUTH) ? "clientAuth" : "serverAuth"));
            }
        }
        String refusal = peerCheck == null ? null : peerCheck.refusal(id);
        if (refusal != null) {
            throw new CertificateException(refusal);
        }
        return id;
    }

    /** The SPIFFE ID of an X.509-SVID leaf: its one and only URI SAN, validated. */
    public static SpiffeId spiffeIdOf(X509Certificate leaf) throws CertificateException {
        List<String> uris;
        try {
            uris = X509Svid.uriSans(leaf);
        } catch (InvalidSvidException e) {
            throw new CertificateException("peer " + e.getMessage(), e);
        }
        if (uris.size() != 1) {
            throw new CertificateException(
                    "peer leaf must have exactly one URI SAN (X509-SVID 2), has "
                            + uris.size()
                            + (uris.isEmpty() ? "" : ": " + uris));
        }
        try {
            return SpiffeId.fromString(uris.get(0));
        } catch (InvalidSpiffeIdException e) {
            throw new CertificateException(
                    "peer URI SAN is not a valid SPIFFE ID: " + e.getMessage(), e);
        }
    }

    private static void validatePath(X509Certificate[] chain, TrustDomain td, Bundle bundle)
            throws CertificateException {
        // A peer may append a root; the path handed to PKIX ends below the anchors.
        List<X509Certificate> path = new ArrayList<>(Arrays.asList(chain));
        while (path.size() > 1 && bundle.roots.contains(path.get(path.size() - 1))) {
            path.remove(path.size() - 1);
        }
        try {
            CertPath certPath = CertificateFactory.getInstance("X.509").generateCertPath(path);
            PKIXParameters params = new PKIXParameters(bundle.anchors);
            params.setRevocationEnabled(false);
            CertPathValidator.getInstance("PKIX").validate(certPath, params);
        } catch (GeneralSecurityException e) {
            throw new CertificateException(
                    "peer chain does not validate against the trust bundle of "
                            + td
                            + " ("
                            + bundle.roots.size()
                            + " roots): "
                            + e.getMessage(),
                    e);
        }
    }

    private void verifyClient(X509Certificate[] chain) throws CertificateException {
        SpiffeId id = verify(chain, EKU_CLIENT_AUTH);
        String refusal = clientCheck == null ? null : clientCheck.refusal(id, chain[0]);
        if (refusal != null) {
            throw new CertificateException(refusal);
        }
    }

    private static List<TrustDomain> sorted(java.util.Collection<TrustDomain> s) {
        List<TrustDomain> l = new ArrayList<>(s);
        l.sort(null);
        return l;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
            throws CertificateException {
        verifyClient(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
            throws CertificateException {
        verify(chain, EKU_SERVER_AUTH);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        verifyClient(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        verify(chain, EKU_SERVER_AUTH);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        verifyClient(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        verify(chain, EKU_SERVER_AUTH);
    }

    // Empty on purpose: a server that lists its roots in CertificateRequest makes
    // JSSE clients withhold a certificate that chains to a root the server does
    // not know yet (mid root rotation), which then fails as "no certificate"
    // rather than with this class's reason.
    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }
}
