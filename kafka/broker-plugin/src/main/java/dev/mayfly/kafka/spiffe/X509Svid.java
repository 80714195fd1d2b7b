// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The X.509-SVID leaf rules (X509-SVID.md §2, §4.3), as
// identity/x509_verify.cc checks them: the SPIFFE ID is the leaf's one URI
// SAN, and a leaf is not a CA, has keyUsage with digitalSignature and
// without keyCertSign or cRLSign, and, if it has an extendedKeyUsage, allows
// TLS. Chain and signature checks are the TLS stack's job (the engine
// factory's trust manager); these are what a principal builder or a trust
// manager needs on top. Stateless and thread-safe.
package dev.mayfly.kafka.spiffe;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

public final class X509Svid {
    private X509Svid() {}

    // RFC 5280 §4.2.1.6: GeneralName tag of a uniformResourceIdentifier, as
    // X509Certificate.getSubjectAlternativeNames reports it.
    private static final int SAN_URI = 6;
    // RFC 5280 §4.2.1.3: KeyUsage bit positions, as getKeyUsage() reports.
    private static final int KU_DIGITAL_SIGNATURE = 0;
    private static final int KU_KEY_CERT_SIGN = 5;
    private static final int KU_CRL_SIGN = 6;
    // RFC 5280 §4.2.1.12 and §4.2.1.12 anyExtendedKeyUsage.
    private static final String EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
    private static final String EKU_ANY = "2.5.29.37.0";

    /** Every URI SAN of `cert`, in order. */
    public static List<String> uriSans(X509Certificate cert) throws InvalidSvidException {
        Collection<List<?>> names;
        try {
            names = cert.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            throw new InvalidSvidException(
                    "leaf certificate has an unreadable subjectAltName: " + e.getMessage());
        }
        List<String> uris = new ArrayList<>();
        if (names == null) {
            return uris;
        }
        for (List<?> name : names) {
            if (name.size() >= 2 && name.get(0) instanceof Integer tag && tag == SAN_URI) {
                uris.add(String.valueOf(name.get(1)));
            }
        }
        return uris;
    }

    /** The SPIFFE ID in a leaf's URI SAN, checking only the SAN rules. */
    public static SpiffeId spiffeIdFromCert(X509Certificate leaf) throws InvalidSvidException {
        List<String> uris = uriSans(leaf);
        if (uris.size() != 1) {
            throw new InvalidSvidException(
                    "leaf certificate must have exactly one URI SAN, found " + uris.size());
        }
        try {
            return SpiffeId.fromString(uris.get(0));
        } catch (InvalidSpiffeIdException e) {
            throw new InvalidSvidException(
                    "leaf certificate URI SAN is not a SPIFFE ID: " + e.getMessage());
        }
    }

    /** The key-usage rules of a leaf SVID; same messages as the C++ code. */
    public static void checkLeafUsage(X509Certificate leaf) throws InvalidSvidException {
        if (leaf.getBasicConstraints() != -1) {
            throw new InvalidSvidException(
                    "leaf certificate must not be a CA (basicConstraints cA=true)");
        }
        boolean[] ku = leaf.getKeyUsage();
        if (ku == null) {
            throw new InvalidSvidException("leaf certificate must have a keyUsage extension");
        }
        if (!bit(ku, KU_DIGITAL_SIGNATURE)) {
            throw new InvalidSvidException(
                    "leaf certificate keyUsage must include digitalSignature");
        }
        if (bit(ku, KU_KEY_CERT_SIGN)) {
            throw new InvalidSvidException(
                    "leaf certificate keyUsage must not include keyCertSign");
        }
        if (bit(ku, KU_CRL_SIGN)) {
            throw new InvalidSvidException("leaf certificate keyUsage must not include cRLSign");
        }
        List<String> eku;
        try {
            eku = leaf.getExtendedKeyUsage();
        } catch (CertificateParsingException e) {
            throw new InvalidSvidException("leaf certificate has invalid extensions");
        }
        if (eku != null
                && !eku.contains(EKU_SERVER_AUTH)
                && !eku.contains(EKU_CLIENT_AUTH)
                && !eku.contains(EKU_ANY)) {
            throw new InvalidSvidException(
                    "leaf certificate extendedKeyUsage allows neither serverAuth nor clientAuth");
        }
    }

    private static boolean bit(boolean[] bits, int i) {
        return i < bits.length && bits[i];
    }
}
