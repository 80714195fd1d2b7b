// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Real certificates for tests: the PEM files under src/test/resources/certs
// (made by make_certs.sh there), parsed by the JDK's CertificateFactory, so
// SAN and key-usage reading is tested on real DER, not on stubs.
package dev.mayfly.kafka.testing;

import java.io.InputStream;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;

public final class TestCerts {
    private TestCerts() {}

    /** certs/NAME.pem from the test classpath. */
    public static X509Certificate load(String name) {
        String resource = "/certs/" + name + ".pem";
        try (InputStream in = TestCerts.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new AssertionError("missing test resource " + resource);
            }
            return (X509Certificate)
                    CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (Exception e) {
            throw new AssertionError("cannot read " + resource, e);
        }
    }
}
