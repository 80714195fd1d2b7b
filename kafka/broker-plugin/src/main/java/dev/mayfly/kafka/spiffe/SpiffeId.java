// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// A SPIFFE ID: "spiffe://" + trust domain + path, the path empty or a
// sequence of "/segment" (one or more ASCII letters, digits, '.', '-', '_',
// neither "." nor ".."). Parsed strictly, never normalised: a string either
// is the canonical form of an ID or is refused, exactly as by
// identity::SpiffeId::FromString. An immutable value.
package dev.mayfly.kafka.spiffe;

import java.util.List;

public final class SpiffeId {
    /** SPIFFE-ID.md §2.3: the longest ID accepted, in bytes. */
    public static final int MAX_LENGTH = SpiffeRules.MAX_SPIFFE_ID_LENGTH;

    private final TrustDomain trustDomain;
    private final String path;

    private SpiffeId(TrustDomain trustDomain, String path) {
        this.trustDomain = trustDomain;
        this.path = path;
    }

    public static SpiffeId fromString(String s) throws InvalidSpiffeIdException {
        SpiffeRules.IdParts parts = SpiffeRules.splitId(s);
        SpiffeRules.scanPath(parts.path(), s, false, (b, n, w) -> {});
        return new SpiffeId(new TrustDomain(parts.trustDomain()), parts.path());
    }

    public TrustDomain trustDomain() {
        return trustDomain;
    }

    /** "" or "/a/b". */
    public String path() {
        return path;
    }

    /** ["a", "b"] for "/a/b"; empty for an empty path. */
    public List<String> segments() {
        if (path.isEmpty()) {
            return List.of();
        }
        // A valid path has no empty segments, so a plain split is exact.
        return List.of(path.substring(1).split("/", -1));
    }

    public boolean memberOf(TrustDomain td) {
        return trustDomain.equals(td);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpiffeId other
                && trustDomain.equals(other.trustDomain)
                && path.equals(other.path);
    }

    @Override
    public int hashCode() {
        return 31 * trustDomain.hashCode() + path.hashCode();
    }

    /** The canonical form, which is also the only form fromString accepts. */
    @Override
    public String toString() {
        return SpiffeRules.SCHEME + trustDomain.name() + path;
    }
}
