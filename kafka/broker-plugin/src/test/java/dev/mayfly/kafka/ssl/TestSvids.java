// Test material: the fixed PEM files of src/test/resources/svid (made once by
// its generate.sh with `mayfly ca init`/`ca rotate`/`svid mint`, 10-year
// TTLs) and SVID directories laid out like `mayfly watch x509 --write`'s
// (version directories and a ..data link switched by an atomic rename).
package dev.mayfly.kafka.ssl;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

final class TestSvids {
    static final String TD = "example.org";
    static final String BROKER_ID = "spiffe://example.org/kafka/broker";
    static final String CLIENT_ID = "spiffe://example.org/orders/writer";
    static final String CLIENT_B_ID = "spiffe://example.org/orders/reader";
    static final String OTHER_ID = "spiffe://other.org/orders/writer";

    private TestSvids() {}

    static byte[] resource(String name) {
        try (InputStream in = TestSvids.class.getResourceAsStream("/svid/" + name)) {
            if (in == null) {
                throw new IllegalStateException("test resource svid/" + name + " is missing");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<X509Certificate> certs(String... names) {
        List<X509Certificate> out = new ArrayList<>();
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            for (String name : names) {
                for (var c :
                        cf.generateCertificates(new java.io.ByteArrayInputStream(resource(name)))) {
                    out.add((X509Certificate) c);
                }
            }
        } catch (java.security.cert.CertificateException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    static X509Certificate[] chain(String svid) {
        return certs(svid + "/svid.pem").toArray(new X509Certificate[0]);
    }

    /**
     * Publishes a new version in {@code dir} the way svid_files.cc does: fill ..VERSION, then
     * rename a fresh link over ..data. A null content leaves that file out.
     */
    static void publish(Path dir, String version, byte[] svid, byte[] key, byte[] bundle)
            throws IOException {
        Files.createDirectories(dir);
        Path vdir = dir.resolve(".." + version);
        Files.createDirectory(vdir);
        if (svid != null) {
            Files.write(vdir.resolve("svid.pem"), svid);
        }
        if (key != null) {
            Files.write(vdir.resolve("svid_key.pem"), key);
        }
        if (bundle != null) {
            Files.write(vdir.resolve("svid_bundle.pem"), bundle);
        }
        Path tmp = dir.resolve("..data_tmp");
        Files.deleteIfExists(tmp);
        Files.createSymbolicLink(tmp, Paths.get(".." + version));
        Files.move(
                tmp,
                dir.resolve("..data"),
                StandardCopyOption.ATOMIC_MOVE,
                StandardCopyOption.REPLACE_EXISTING);
        for (String name : new String[] {"svid.pem", "svid_key.pem", "svid_bundle.pem"}) {
            Path link = dir.resolve(name);
            if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(link, Paths.get("..data", name));
            }
        }
    }

    /**
     * Publishes the fixed SVID {@code svid} (a resource folder) with these bundles concatenated.
     */
    static void publish(Path dir, String version, String svid, String... bundles)
            throws IOException {
        publish(
                dir,
                version,
                resource(svid + "/svid.pem"),
                resource(svid + "/svid_key.pem"),
                concat(bundles));
    }

    static byte[] concat(String... names) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (String n : names) {
            out.writeBytes(resource(n));
        }
        return out.toByteArray();
    }

    /**
     * The factory's settings on {@code dir}: its own ID is that of the SVID published there ({@link
     * #BROKER_ID} if none), and {@code peerIds} null stands for the broker's ID.
     */
    static Map<String, Object> config(Path dir, String trustDomains, String peerIds) {
        Map<String, Object> c = new HashMap<>();
        c.put(SvidSslEngineFactory.SVID_DIR_CONFIG, dir.toString());
        c.put(SvidSslEngineFactory.TRUST_DOMAINS_CONFIG, trustDomains);
        c.put(SvidSslEngineFactory.SVID_SPIFFE_ID_CONFIG, publishedId(dir));
        c.put(SvidSslEngineFactory.PEER_SPIFFE_IDS_CONFIG, peerIds == null ? BROKER_ID : peerIds);
        return c;
    }

    // The SPIFFE ID of the SVID ..data names in `dir`, or BROKER_ID.
    private static String publishedId(Path dir) {
        Path svid = dir.resolve("..data").resolve("svid.pem");
        if (!Files.exists(svid)) {
            return BROKER_ID;
        }
        try (InputStream in = Files.newInputStream(svid)) {
            return idOf(
                    (X509Certificate)
                            CertificateFactory.getInstance("X.509").generateCertificate(in));
        } catch (Exception e) {
            return BROKER_ID; // a test's broken version: the ID does not matter
        }
    }

    static SvidSslEngineFactory factory(Path dir, String trustDomains, String peerIds) {
        SvidSslEngineFactory f = new SvidSslEngineFactory();
        f.configure(config(dir, trustDomains, peerIds));
        return f;
    }

    static String idOf(X509Certificate leaf) throws Exception {
        return SpiffeTrustManager.spiffeIdOf(leaf).toString();
    }

    // A plain JDK client engine with `keyManagers` (null: no certificate)
    // that trusts example.org's root A.
    static javax.net.ssl.SSLEngine clientTrustingRootA(javax.net.ssl.KeyManager[] keyManagers)
            throws Exception {
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(
                keyManagers,
                new javax.net.ssl.TrustManager[] {
                    new SpiffeTrustManager(
                            Map.of(
                                    dev.mayfly.kafka.spiffe.TrustDomain.fromString("example.org"),
                                    certs("bundle_a.pem")),
                            java.util.Set.of(
                                    dev.mayfly.kafka.spiffe.TrustDomain.fromString("example.org")),
                            java.util.Set.of())
                },
                null);
        javax.net.ssl.SSLEngine c = ctx.createSSLEngine("127.0.0.1", 9093);
        c.setUseClientMode(true);
        return c;
    }
}
