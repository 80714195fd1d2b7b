// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The X.509-SVID leaf rules on real certificates (src/test/resources/certs),
// with the messages of identity/x509_verify.cc.
package dev.mayfly.kafka.spiffe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.mayfly.kafka.testing.TestCerts;

import org.junit.jupiter.api.Test;

import java.util.List;

class X509SvidTest {
    private static String idError(String cert) {
        return assertThrows(
                        InvalidSvidException.class,
                        () -> X509Svid.spiffeIdFromCert(TestCerts.load(cert)))
                .getMessage();
    }

    private static String usageError(String cert) {
        return assertThrows(
                        InvalidSvidException.class,
                        () -> X509Svid.checkLeafUsage(TestCerts.load(cert)))
                .getMessage();
    }

    @Test
    void takesTheIdFromTheOneUriSan() throws Exception {
        assertEquals(
                "spiffe://prod.acme/ns/orders/sa/writer",
                X509Svid.spiffeIdFromCert(TestCerts.load("writer")).toString());
        assertEquals(
                List.of("spiffe://prod.acme/a", "spiffe://prod.acme/b"),
                X509Svid.uriSans(TestCerts.load("two_uris")));
        X509Svid.checkLeafUsage(TestCerts.load("writer"));
    }

    @Test
    void refusesOtherSans() {
        assertEquals(
                "leaf certificate must have exactly one URI SAN, found 0", idError("not_spiffe"));
        assertEquals(
                "leaf certificate must have exactly one URI SAN, found 2", idError("two_uris"));
        assertEquals(
                "leaf certificate URI SAN is not a SPIFFE ID: path cannot have a trailing"
                        + " slash: \"spiffe://prod.acme/ns/orders/sa/writer/\"",
                idError("bad_uri"));
    }

    @Test
    void refusesLeavesThatAreNotSvids() {
        assertEquals(
                "leaf certificate must not be a CA (basicConstraints cA=true)", usageError("ca"));
        assertEquals(
                "leaf certificate keyUsage must include digitalSignature",
                usageError("no_digital_signature"));
        assertEquals(
                "leaf certificate extendedKeyUsage allows neither serverAuth nor clientAuth",
                usageError("code_signing"));
    }
}
