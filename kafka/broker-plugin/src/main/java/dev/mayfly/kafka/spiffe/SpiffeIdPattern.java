// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// A pattern over SPIFFE IDs, with identity::SpiffeIdPattern's semantics:
// - the trust domain is literal: a pattern never matches another domain;
// - "*" as a whole segment matches exactly one segment;
// - "**" may only be the last segment and matches ONE OR MORE remaining
//   segments (so ".../ns/**" never matches ".../ns" itself);
// - wildcards inside a segment ("web-*") are refused;
// - a pattern without wildcards matches exactly the ID it spells.
// Immutable, safe to share between threads.
package dev.mayfly.kafka.spiffe;

import java.util.ArrayList;
import java.util.List;

public final class SpiffeIdPattern {
    private enum Kind {
        LITERAL,
        ANY_ONE,
        ONE_OR_MORE
    }

    private record Segment(Kind kind, String literal) {}

    private final TrustDomain trustDomain;
    private final String path;
    private final List<Segment> segments;

    private SpiffeIdPattern(TrustDomain trustDomain, String path, List<Segment> segments) {
        this.trustDomain = trustDomain;
        this.path = path;
        this.segments = segments;
    }

    public static SpiffeIdPattern fromString(String s) throws InvalidSpiffeIdException {
        SpiffeRules.IdParts parts = SpiffeRules.splitId(s);
        String path = parts.path();
        List<Segment> segments = new ArrayList<>();
        SpiffeRules.scanPath(
                path,
                s,
                true,
                (begin, size, wildcard) -> {
                    if (!wildcard) {
                        segments.add(
                                new Segment(Kind.LITERAL, path.substring(begin, begin + size)));
                    } else {
                        segments.add(
                                new Segment(size == 1 ? Kind.ANY_ONE : Kind.ONE_OR_MORE, null));
                    }
                });
        return new SpiffeIdPattern(
                new TrustDomain(parts.trustDomain()), path, List.copyOf(segments));
    }

    public boolean matches(SpiffeId id) {
        if (!id.trustDomain().equals(trustDomain)) {
            return false;
        }
        // Walk the ID's path one "/segment" at a time; rest = path[pos, end).
        String idPath = id.path();
        int pos = 0;
        for (Segment segment : segments) {
            if (segment.kind() == Kind.ONE_OR_MORE) {
                return pos < idPath.length();
            }
            if (pos >= idPath.length()) {
                return false;
            }
            pos++; // The '/' before the segment.
            int end = idPath.indexOf('/', pos);
            if (end < 0) {
                end = idPath.length();
            }
            if (segment.kind() == Kind.LITERAL
                    && !idPath.regionMatches(pos, segment.literal(), 0, end - pos)) {
                return false;
            }
            if (segment.kind() == Kind.LITERAL && segment.literal().length() != end - pos) {
                return false;
            }
            pos = end;
        }
        return pos == idPath.length();
    }

    public TrustDomain trustDomain() {
        return trustDomain;
    }

    /** The pattern as given (patterns, like IDs, are never normalised). */
    @Override
    public String toString() {
        return SpiffeRules.SCHEME + trustDomain.name() + path;
    }
}
