// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The authority of a SPIFFE ID: a non-empty name of lowercase letters,
// digits, '.', '-' and '_', at most 255 bytes. Same rules as
// identity::TrustDomain. An immutable value, safe to share between threads.
package dev.mayfly.kafka.spiffe;

public final class TrustDomain implements Comparable<TrustDomain> {
    private final String name;

    TrustDomain(String name) {
        this.name = name;
    }

    /**
     * Accepts a bare name ("example.org") or a SPIFFE ID string, which must be valid as a whole
     * (its path is then dropped). Input containing ":/" is taken to be an ID, as in go-spiffe and
     * the C++ code.
     */
    public static TrustDomain fromString(String s) throws InvalidSpiffeIdException {
        if (s.contains(":/")) {
            SpiffeRules.IdParts parts = SpiffeRules.splitId(s);
            SpiffeRules.scanPath(parts.path(), s, false, (b, n, w) -> {});
            return new TrustDomain(parts.trustDomain());
        }
        SpiffeRules.scanTrustDomain(s, false, s);
        return new TrustDomain(s);
    }

    /** "example.org". */
    public String name() {
        return name;
    }

    /** "spiffe://example.org": the ID of the trust domain itself. */
    public String idString() {
        return SpiffeRules.SCHEME + name;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TrustDomain other && name.equals(other.name);
    }

    @Override
    public int hashCode() {
        return name.hashCode();
    }

    @Override
    public int compareTo(TrustDomain other) {
        return name.compareTo(other.name);
    }

    @Override
    public String toString() {
        return name;
    }
}
