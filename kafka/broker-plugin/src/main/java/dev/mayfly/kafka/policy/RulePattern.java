// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The ID pattern of one `principals` rule, as bridge/policy_rule.cc reads
// it: "spiffe://prod.acme/ns/{ns}/sa/{sa}". A capture "{name}" is one whole
// path segment; for matching it is read as "*" by SpiffeIdPattern, which
// does the matching, and what it captured is then taken from the ID by
// position (every segment before a final "**" is exactly one segment, so
// positions line up). Immutable.
package dev.mayfly.kafka.policy;

import dev.mayfly.kafka.spiffe.Escaping;
import dev.mayfly.kafka.spiffe.InvalidSpiffeIdException;
import dev.mayfly.kafka.spiffe.SpiffeIdPattern;

import java.util.ArrayList;
import java.util.List;

final class RulePattern {
    enum Kind {
        LITERAL, // matches itself exactly
        ONE, // "*" or "{name}": exactly one segment
        REST // "**", last only: one or more segments
    }

    /** One path segment; `capture` is the name for "{name}", else "". */
    record Segment(Kind kind, String literal, String capture) {}

    private static final String SCHEME = "spiffe://";

    private final SpiffeIdPattern matcher;
    private final List<Segment> segments;

    private RulePattern(SpiffeIdPattern matcher, List<Segment> segments) {
        this.matcher = matcher;
        this.segments = segments;
    }

    /** The message of a refused pattern, without FILE:LINE: FIELD. */
    static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        Invalid(String message) {
            super(message);
        }
    }

    static RulePattern parse(String text) throws Invalid {
        List<Segment> segments = new ArrayList<>();
        StringBuilder rewritten = new StringBuilder(); // captures read as "*"
        boolean hasCaptures = false;
        int pathStart = text.startsWith(SCHEME) ? text.indexOf('/', SCHEME.length()) : -1;
        if (pathStart < 0) {
            rewritten.append(text);
        } else {
            rewritten.append(text, 0, pathStart);
            for (String segment : text.substring(pathStart + 1).split("/", -1)) {
                String asWritten = segment;
                Segment out;
                if (segment.indexOf('{') >= 0 || segment.indexOf('}') >= 0) {
                    String capture = captureSegment(segment);
                    for (Segment earlier : segments) {
                        if (earlier.capture().equals(capture)) {
                            throw new Invalid(
                                    "capture {" + capture + "} appears twice in the pattern");
                        }
                    }
                    out = new Segment(Kind.ONE, "", capture);
                    asWritten = "*";
                    hasCaptures = true;
                } else if (segment.equals("*")) {
                    out = new Segment(Kind.ONE, "", "");
                } else if (segment.equals("**")) {
                    out = new Segment(Kind.REST, "", "");
                } else {
                    out = new Segment(Kind.LITERAL, segment, "");
                }
                rewritten.append('/').append(asWritten);
                segments.add(out);
            }
        }
        try {
            return new RulePattern(
                    SpiffeIdPattern.fromString(rewritten.toString()), List.copyOf(segments));
        } catch (InvalidSpiffeIdException e) {
            throw new Invalid(e.getMessage() + (hasCaptures ? " (captures read as \"*\")" : ""));
        }
    }

    // "{name}" as a whole segment: the name; otherwise an error saying why.
    private static String captureSegment(String segment) throws Invalid {
        int innerBrace = -1;
        for (int i = 1; i < segment.length(); i++) {
            char c = segment.charAt(i);
            if (c == '{' || c == '}') {
                innerBrace = i;
                break;
            }
        }
        if (segment.length() < 2
                || segment.charAt(0) != '{'
                || segment.charAt(segment.length() - 1) != '}'
                || innerBrace != segment.length() - 1) {
            throw new Invalid(
                    "a capture must be a whole path segment, like /{name}/: \""
                            + Escaping.cHexEscape(segment)
                            + "\"");
        }
        String name = segment.substring(1, segment.length() - 1);
        if (!isCaptureName(name)) {
            throw new Invalid(
                    "a capture name is letters, digits and '_': \""
                            + Escaping.cHexEscape(segment)
                            + "\"");
        }
        return name;
    }

    private static boolean isCaptureName(String name) {
        if (name.isEmpty()) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok =
                    (c >= 'a' && c <= 'z')
                            || (c >= 'A' && c <= 'Z')
                            || (c >= '0' && c <= '9')
                            || c == '_';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    SpiffeIdPattern matcher() {
        return matcher;
    }

    List<Segment> segments() {
        return segments;
    }

    /** Capture names in path order. */
    List<String> captureNames() {
        List<String> names = new ArrayList<>();
        for (Segment s : segments) {
            if (!s.capture().isEmpty()) {
                names.add(s.capture());
            }
        }
        return names;
    }

    /** The index of the path segment capture `name` takes, or -1. */
    int captureIndex(String name) {
        for (int i = 0; i < segments.size(); i++) {
            if (segments.get(i).capture().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * True when every ID `later` matches, this pattern matches too, so a rule with `later` after
     * this one could never be reached. Exact for these patterns.
     */
    boolean subsumes(RulePattern later) {
        if (!matcher.trustDomain().equals(later.matcher.trustDomain())) {
            return false;
        }
        List<Segment> a = segments;
        List<Segment> b = later.segments;
        for (int k = 0; ; k++) {
            // "**" here takes whatever one-or-more segments `later` still has.
            if (k < a.size() && a.get(k).kind() == Kind.REST) {
                return k < b.size();
            }
            if (k == a.size()) {
                return k == b.size();
            }
            // This pattern needs a segment that IDs of `later` do not have.
            if (k == b.size()) {
                return false;
            }
            // `later` matches IDs of several lengths from here; this one, one.
            if (b.get(k).kind() == Kind.REST) {
                return false;
            }
            if (a.get(k).kind() == Kind.LITERAL
                    && (b.get(k).kind() != Kind.LITERAL
                            || !b.get(k).literal().equals(a.get(k).literal()))) {
                return false;
            }
        }
    }
}
