// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The scanning rules shared by SpiffeId, TrustDomain and SpiffeIdPattern: a
// line-by-line port of identity/spiffe_id.cc (SPIFFE-ID.md sections 2.1 to
// 2.3), so both implementations accept and reject exactly the same strings.
// Lengths are counted in UTF-8 bytes, as the C++ code counts them; any
// non-ASCII character is refused anyway, as a byte outside the allowed set.
package dev.mayfly.kafka.spiffe;

import java.nio.charset.StandardCharsets;

final class SpiffeRules {
    private SpiffeRules() {}

    // SPIFFE-ID.md §2.3: IDs longer than 2048 bytes are rejected.
    static final int MAX_SPIFFE_ID_LENGTH = 2048;
    // SPIFFE-ID.md §2.3: RFC 3986 limits the host, hence the trust domain, to
    // 255 bytes.
    static final int MAX_TRUST_DOMAIN_LENGTH = 255;
    // SPIFFE-ID.md §2: the only scheme, always lowercase.
    static final String SCHEME = "spiffe://";
    // Inputs quoted in messages are cut to this many bytes (readability, not
    // a spec limit), as in the C++ code.
    private static final int MAX_QUOTED_INPUT_LENGTH = 128;

    // One message per rule; the same words as identity/spiffe_id.cc.
    static final String EMPTY = "SPIFFE ID cannot be empty";
    static final String TOO_LONG = "SPIFFE ID is too long (the maximum is 2048 bytes)";
    static final String BAD_SCHEME =
            "scheme is missing or invalid (a SPIFFE ID starts with lowercase \"spiffe://\")";
    static final String MISSING_TRUST_DOMAIN = "trust domain is missing";
    static final String TRUST_DOMAIN_TOO_LONG =
            "trust domain is too long (the maximum is 255 bytes)";
    static final String BAD_TRUST_DOMAIN_CHAR =
            "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and"
                    + " underscores";
    static final String PORT = "trust domain cannot have a port";
    static final String USERINFO = "trust domain cannot have userinfo";
    static final String PATH_NO_LEADING_SLASH = "path must be empty or start with '/'";
    static final String EMPTY_SEGMENT = "path cannot contain empty segments";
    static final String TRAILING_SLASH = "path cannot have a trailing slash";
    static final String DOT_SEGMENT = "path cannot contain dot segments (\".\" or \"..\")";
    static final String BAD_PATH_CHAR =
            "path segment characters are limited to letters, numbers, dots, dashes, and"
                    + " underscores";
    static final String PERCENT_ENCODED = "percent-encoded characters are not allowed";
    static final String QUERY_OR_FRAGMENT = "SPIFFE ID cannot have a query or fragment";
    static final String PARTIAL_WILDCARD =
            "pattern wildcards must be a whole segment (\"*\" or \"**\")";
    static final String DOUBLE_STAR_NOT_LAST =
            "pattern wildcard \"**\" may only be the last segment";

    static InvalidSpiffeIdException invalid(String rule, String input) {
        byte[] bytes = input.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= MAX_QUOTED_INPUT_LENGTH) {
            return new InvalidSpiffeIdException(rule + ": \"" + escape(bytes, bytes.length) + "\"");
        }
        return new InvalidSpiffeIdException(
                rule
                        + ": \""
                        + escape(bytes, MAX_QUOTED_INPUT_LENGTH)
                        + "...\" ("
                        + bytes.length
                        + " bytes)");
    }

    // Like absl::CHexEscape: printable ASCII as is (with \ and quotes escaped),
    // common controls by name, any other byte as \xNN, and so is a hex digit
    // right after one ("\xa0\x66", not "\xa0f", which C reads as one escape).
    static String escape(byte[] bytes, int length) {
        StringBuilder out = new StringBuilder(length);
        boolean lastHex = false;
        for (int i = 0; i < length; i++) {
            int b = bytes[i] & 0xff;
            boolean hex = false;
            switch (b) {
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '"' -> out.append("\\\"");
                case '\'' -> out.append("\\'");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (b >= 0x20 && b < 0x7f && !(lastHex && Character.digit(b, 16) >= 0)) {
                        out.append((char) b);
                    } else {
                        out.append(String.format("\\x%02x", b));
                        hex = true;
                    }
                }
            }
            lastHex = hex;
        }
        return out.toString();
    }

    static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c)
                    && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    static boolean isTrustDomainChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    }

    static boolean isPathChar(char c) {
        return isTrustDomainChar(c) || (c >= 'A' && c <= 'Z');
    }

    // A character outside the allowed set usually means another kind of URI;
    // naming that kind is more useful than listing the allowed set.
    private static String ruleForBadUriChar(char c, String fallback) {
        return switch (c) {
            case '%' -> PERCENT_ENCODED;
            case '?', '#' -> QUERY_OR_FRAGMENT;
            default -> fallback;
        };
    }

    // Validates the trust domain at the start of `rest`, returning its length.
    // In an ID it ends at the first '/'; a bare name runs to the end.
    static int scanTrustDomain(String rest, boolean inId, String input)
            throws InvalidSpiffeIdException {
        int i = 0;
        for (; i < rest.length(); i++) {
            char c = rest.charAt(i);
            if (isTrustDomainChar(c)) {
                continue;
            }
            if (c == '/' && inId) {
                break;
            }
            if (c == ':' || c == '@') {
                // In "user:pass@host" the ':' comes first, but the problem is the
                // userinfo, so look ahead for an '@' before blaming a port.
                String authority = rest;
                if (inId && rest.indexOf('/') >= 0) {
                    authority = rest.substring(0, rest.indexOf('/'));
                }
                throw invalid(authority.indexOf('@') >= 0 ? USERINFO : PORT, input);
            }
            throw invalid(ruleForBadUriChar(c, BAD_TRUST_DOMAIN_CHAR), input);
        }
        if (i == 0) {
            throw invalid(MISSING_TRUST_DOMAIN, input);
        }
        // Only ASCII got this far, so characters are bytes.
        if (i > MAX_TRUST_DOMAIN_LENGTH) {
            throw invalid(TRUST_DOMAIN_TOO_LONG, input);
        }
        return i;
    }

    /** The trust domain and the (not yet validated) path of an ID. */
    record IdParts(String trustDomain, String path) {}

    // Emptiness, length, scheme and trust domain: shared by IDs and patterns.
    static IdParts splitId(String s) throws InvalidSpiffeIdException {
        if (s.isEmpty()) {
            throw invalid(EMPTY, s);
        }
        if (utf8Length(s) > MAX_SPIFFE_ID_LENGTH) {
            throw invalid(TOO_LONG, s);
        }
        if (!s.startsWith(SCHEME)) {
            throw invalid(BAD_SCHEME, s);
        }
        String rest = s.substring(SCHEME.length());
        int tdLength = scanTrustDomain(rest, true, s);
        return new IdParts(rest.substring(0, tdLength), rest.substring(tdLength));
    }

    /** Called for each valid segment path[begin, begin + size). */
    interface SegmentSink {
        void accept(int begin, int size, boolean isWildcard);
    }

    // Validates `path` ("" or "/seg/seg...") in one pass. With
    // `allowWildcards`, a segment may be "*", or "**" if it is the last one;
    // otherwise '*' is just a disallowed character.
    static void scanPath(String path, String input, boolean allowWildcards, SegmentSink sink)
            throws InvalidSpiffeIdException {
        if (path.isEmpty()) {
            return;
        }
        if (path.charAt(0) != '/') {
            throw invalid(PATH_NO_LEADING_SLASH, input);
        }
        int begin = 1;
        boolean hasStar = false;
        for (int i = 1; i <= path.length(); i++) {
            if (i < path.length() && path.charAt(i) != '/') {
                char c = path.charAt(i);
                if (isPathChar(c)) {
                    continue;
                }
                if (c == '*' && allowWildcards) {
                    hasStar = true;
                    continue;
                }
                throw invalid(ruleForBadUriChar(c, BAD_PATH_CHAR), input);
            }
            String segment = path.substring(begin, i);
            boolean last = i == path.length();
            if (segment.isEmpty()) {
                throw invalid(last ? TRAILING_SLASH : EMPTY_SEGMENT, input);
            }
            if (segment.equals(".") || segment.equals("..")) {
                throw invalid(DOT_SEGMENT, input);
            }
            if (hasStar) {
                if (!segment.equals("*") && !segment.equals("**")) {
                    throw invalid(PARTIAL_WILDCARD, input);
                }
                if (segment.equals("**") && !last) {
                    throw invalid(DOUBLE_STAR_NOT_LAST, input);
                }
            }
            sink.accept(begin, segment.length(), hasStar);
            begin = i + 1;
            hasStar = false;
        }
    }
}
