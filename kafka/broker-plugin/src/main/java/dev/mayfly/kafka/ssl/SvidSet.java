// One consistent X.509-SVID set read from one version directory of a
// `mayfly watch x509 --write` directory (identity/svid_files.h): the chain of
// svid.pem (leaf first), the PKCS#8 key of svid_key.pem, checked to match the
// leaf, and every root of svid_bundle.pem. Loading fails as a whole or not at
// all: no half set ever leaves this class.
package dev.mayfly.kafka.ssl;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
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

    private final List<X509Certificate> chain;
    private final PrivateKey key;
    private final List<X509Certificate> bundle;
    private final String version;

    private SvidSet(
            List<X509Certificate> chain,
            PrivateKey key,
            List<X509Certificate> bundle,
            String version) {
        this.chain = List.copyOf(chain);
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
        List<X509Certificate> chain = readCerts(versionDir.resolve(SVID_FILE));
        List<X509Certificate> bundle = readCerts(versionDir.resolve(BUNDLE_FILE));
        X509Certificate leaf = chain.get(0);
        PrivateKey key = readKey(versionDir.resolve(KEY_FILE), leaf.getPublicKey().getAlgorithm());
        checkKeyMatchesLeaf(key, leaf, versionDir.resolve(KEY_FILE));
        return new SvidSet(chain, key, bundle, version);
    }

    private static byte[] read(Path file) throws LoadException {
        try {
            return Files.readAllBytes(file);
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

    public PrivateKey key() {
        return key;
    }

    /** Every root of the bundle; during a root rotation, several. */
    public List<X509Certificate> bundle() {
        return bundle;
    }

    /** The version directory's name (the target of ..data). */
    public String version() {
        return version;
    }
}
