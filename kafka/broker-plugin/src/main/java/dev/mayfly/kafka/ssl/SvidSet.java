// One consistent X.509-SVID set read from one version directory of a
// `mayfly watch x509 --write` directory (identity/svid_files.h): the chain of
// svid.pem (leaf first, its one URI SAN a SPIFFE ID), the PKCS#8 key of
// svid_key.pem, checked to match the leaf, and every root of
// svid_bundle.pem. Loading fails as a whole or not at all: no half set ever
// leaves this class.
//
// Which trust domain the bundle is for, as the C++ side has it: the writer
// (identity/cli/workload_common.cc WriteSvid) puts into svid_bundle.pem the
// Workload API bundle of the SVID's own trust domain and nothing else, so
// the file is that one trust domain's bundle (an X509Bundle of
// svid.id.trust_domain()). A root that names a trust domain in its URI SAN
// (Mayfly's and SPIRE's roots carry spiffe://TD; `mayfly svid verify` reads
// a bundle's trust domain from it) must name that same one: a root of
// another trust domain in the file is refused, never trusted for this one.
//
// The files are read only if they are regular files (no symlink, FIFO or
// device: opening a FIFO blocks until a writer comes, which would hang
// every new handshake) and at most MAX_FILE_BYTES long.
package dev.mayfly.kafka.ssl;

import dev.mayfly.kafka.spiffe.InvalidSpiffeIdException;
import dev.mayfly.kafka.spiffe.InvalidSvidException;
import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.spiffe.TrustDomain;
import dev.mayfly.kafka.spiffe.X509Svid;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;

/** An immutable SVID (chain and key) and the trust bundle it came with. */
public final class SvidSet {
    static final String SVID_FILE = "svid.pem";
    static final String KEY_FILE = "svid_key.pem";
    static final String BUNDLE_FILE = "svid_bundle.pem";

    private static final String KEY_BEGIN = "-----BEGIN PRIVATE KEY-----";
    private static final String KEY_END = "-----END PRIVATE KEY-----";

    // Far above any real file (an SVID chain is a few KB, a bundle about 1 KB
    // per root), and small enough that a runaway file cannot exhaust the heap.
    static final int MAX_FILE_BYTES = 1 << 20;

    private final List<X509Certificate> chain;
    private final SpiffeId id;
    private final PrivateKey key;
    private final List<X509Certificate> bundle;
    private final String version;

    private SvidSet(
            List<X509Certificate> chain,
            SpiffeId id,
            PrivateKey key,
            List<X509Certificate> bundle,
            String version) {
        this.chain = List.copyOf(chain);
        this.id = id;
        this.key = key;
        this.bundle = List.copyOf(bundle);
        this.version = version;
    }

    /** Thrown when a version directory does not hold a complete, matching set. */
    public static final class LoadException extends Exception {
        LoadException(String message) {
            super(message);
        }
    }

    /**
     * Reads svid.pem, svid_key.pem and svid_bundle.pem from {@code versionDir}, a directory that
     * never changes once published, and checks that they form one set. {@code version} names it in
     * logs.
     */
    public static SvidSet load(Path versionDir, String version) throws LoadException {
        Path svidFile = versionDir.resolve(SVID_FILE);
        List<X509Certificate> chain = readCerts(svidFile);
        Path bundleFile = versionDir.resolve(BUNDLE_FILE);
        List<X509Certificate> bundle = readCerts(bundleFile);
        X509Certificate leaf = chain.get(0);
        SpiffeId id;
        try {
            id = SpiffeTrustManager.spiffeIdOf(leaf);
        } catch (java.security.cert.CertificateException e) {
            // spiffeIdOf speaks of a peer; here the leaf is our own.
            throw new LoadException(
                    svidFile + ": not an X.509-SVID: " + e.getMessage().replaceFirst("^peer ", ""));
        }
        checkRootsAreOf(id.trustDomain(), bundle, bundleFile, id);
        PrivateKey key = readKey(versionDir.resolve(KEY_FILE), leaf.getPublicKey().getAlgorithm());
        checkKeyMatchesLeaf(key, leaf, versionDir.resolve(KEY_FILE));
        return new SvidSet(chain, id, key, bundle, version);
    }

    /**
     * Refuses this set for a workload that is not {@code expected}, or at {@code now} outside its
     * leaf's validity (NotBefore <= now < NotAfter, as VerifyX509Svid counts it).
     */
    public void checkUsable(SpiffeId expected, Instant now) throws LoadException {
        if (!id.equals(expected)) {
            throw new LoadException(
                    SVID_FILE
                            + " of version "
                            + version
                            + " is for "
                            + id
                            + ", not "
                            + expected
                            + " ("
                            + SvidSslEngineFactory.SVID_SPIFFE_ID_CONFIG
                            + ")");
        }
        Instant notBefore = leaf().getNotBefore().toInstant();
        Instant notAfter = leaf().getNotAfter().toInstant();
        if (now.isBefore(notBefore)) {
            throw new LoadException(
                    SVID_FILE
                            + " of version "
                            + version
                            + " is not valid yet: NotBefore "
                            + notBefore
                            + ", now "
                            + now);
        }
        if (!now.isBefore(notAfter)) {
            throw new LoadException(
                    SVID_FILE
                            + " of version "
                            + version
                            + " has expired: NotAfter "
                            + notAfter
                            + ", now "
                            + now);
        }
    }

    // The trust domain a root names in its URI SAN, read as `mayfly svid
    // verify` (BundleTrustDomain) reads it: the first URI SAN that is a trust
    // domain or a SPIFFE ID; null when it names none.
    static TrustDomain trustDomainNamedBy(X509Certificate root) {
        List<String> uris;
        try {
            uris = X509Svid.uriSans(root);
        } catch (InvalidSvidException e) {
            return null;
        }
        for (String uri : uris) {
            try {
                return TrustDomain.fromString(uri);
            } catch (InvalidSpiffeIdException e) {
                // Not a trust domain: look at the next one.
            }
        }
        return null;
    }

    private static void checkRootsAreOf(
            TrustDomain td, List<X509Certificate> roots, Path file, SpiffeId id)
            throws LoadException {
        for (int i = 0; i < roots.size(); i++) {
            TrustDomain named = trustDomainNamedBy(roots.get(i));
            if (named != null && !named.equals(td)) {
                throw new LoadException(
                        file
                                + ": root "
                                + (i + 1)
                                + " ("
                                + roots.get(i).getSubjectX500Principal().getName()
                                + ") is a root of trust domain "
                                + named
                                + "; this file is the bundle of "
                                + td
                                + ", the trust domain of "
                                + id
                                + " in "
                                + SVID_FILE);
            }
        }
    }

    // Only a regular file is opened (a FIFO would block the open itself), and
    // no symlink is followed (O_NOFOLLOW). The check and the open are two
    // calls: a version directory never changes once published, so only its
    // writer could swap a file in between; Java offers no O_NONBLOCK open
    // that would close that window too.
    private static byte[] read(Path file) throws LoadException {
        BasicFileAttributes attrs;
        try {
            attrs =
                    Files.readAttributes(
                            file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            throw new LoadException(file + ": missing");
        } catch (IOException e) {
            throw new LoadException(file + ": " + e);
        }
        if (!attrs.isRegularFile()) {
            throw new LoadException(
                    file
                            + ": not a regular file (a "
                            + (attrs.isSymbolicLink()
                                    ? "symlink"
                                    : attrs.isDirectory() ? "directory" : "FIFO, socket or device")
                            + ")");
        }
        if (attrs.size() > MAX_FILE_BYTES) {
            throw new LoadException(
                    file + ": " + attrs.size() + " bytes, more than " + MAX_FILE_BYTES);
        }
        try (SeekableByteChannel in =
                Files.newByteChannel(
                        file,
                        java.util.Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream((int) attrs.size());
            ByteBuffer buf = ByteBuffer.allocate(8192);
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf.array(), 0, n);
                buf.clear();
                if (out.size() > MAX_FILE_BYTES) {
                    throw new LoadException(file + ": more than " + MAX_FILE_BYTES + " bytes");
                }
            }
            return out.toByteArray();
        } catch (NoSuchFileException e) {
            throw new LoadException(file + ": missing");
        } catch (IOException e) {
            throw new LoadException(file + ": " + e);
        }
    }

    private static List<X509Certificate> readCerts(Path file) throws LoadException {
        byte[] pem = read(file);
        Collection<? extends Certificate> certs;
        try {
            certs =
                    CertificateFactory.getInstance("X.509")
                            .generateCertificates(new ByteArrayInputStream(pem));
        } catch (GeneralSecurityException e) {
            throw new LoadException(file + ": not PEM certificates: " + e.getMessage());
        }
        if (certs.isEmpty()) {
            throw new LoadException(file + ": holds no certificate");
        }
        List<X509Certificate> out = new ArrayList<>();
        for (Certificate c : certs) {
            out.add((X509Certificate) c);
        }
        return out;
    }

    private static PrivateKey readKey(Path file, String algorithm) throws LoadException {
        String pem = new String(read(file), StandardCharsets.US_ASCII);
        int begin = pem.indexOf(KEY_BEGIN);
        int end = pem.indexOf(KEY_END);
        if (begin < 0 || end < begin) {
            throw new LoadException(file + ": no complete PKCS#8 \"" + KEY_BEGIN + "\" block");
        }
        try {
            byte[] der =
                    Base64.getMimeDecoder().decode(pem.substring(begin + KEY_BEGIN.length(), end));
            return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (IllegalArgumentException | GeneralSecurityException e) {
            throw new LoadException(
                    file + ": not a PKCS#8 " + algorithm + " key: " + e.getMessage());
        }
    }

    // Signs a fixed message with the key and verifies it with the leaf's public
    // key: works for EC, RSA and Ed25519 alike, without comparing key encodings.
    private static void checkKeyMatchesLeaf(PrivateKey key, X509Certificate leaf, Path keyFile)
            throws LoadException {
        String alg;
        switch (leaf.getPublicKey().getAlgorithm()) {
            case "EC":
                alg = "SHA256withECDSA";
                break;
            case "RSA":
                alg = "SHA256withRSA";
                break;
            default:
                alg = leaf.getPublicKey().getAlgorithm(); // Ed25519, EdDSA
        }
        byte[] probe = "mayfly key check".getBytes(StandardCharsets.US_ASCII);
        try {
            Signature signer = Signature.getInstance(alg);
            signer.initSign(key);
            signer.update(probe);
            byte[] sig = signer.sign();
            Signature verifier = Signature.getInstance(alg);
            verifier.initVerify(leaf.getPublicKey());
            verifier.update(probe);
            if (verifier.verify(sig)) {
                return;
            }
        } catch (GeneralSecurityException e) {
            throw new LoadException(
                    keyFile + ": cannot check the key against the leaf: " + e.getMessage());
        }
        throw new LoadException(
                keyFile + ": key does not match the leaf certificate of " + SVID_FILE);
    }

    /** The chain, leaf first. */
    public List<X509Certificate> chain() {
        return chain;
    }

    public X509Certificate leaf() {
        return chain.get(0);
    }

    /** The SPIFFE ID of the leaf. */
    public SpiffeId spiffeId() {
        return id;
    }

    /** The trust domain of the SVID, and so of every root of {@link #bundle()}. */
    public TrustDomain trustDomain() {
        return id.trustDomain();
    }

    public PrivateKey key() {
        return key;
    }

    /** Every root of the bundle of {@link #trustDomain()}; during a root rotation, several. */
    public List<X509Certificate> bundle() {
        return bundle;
    }

    /** The version directory's name (the target of ..data). */
    public String version() {
        return version;
    }
}
