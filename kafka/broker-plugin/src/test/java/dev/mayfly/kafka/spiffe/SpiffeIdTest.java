// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The SPIFFE ID rules, one case per rule, ported from
// identity/spiffe_id_test.cc and spiffe_id_pattern_test.cc: the Java parser
// must accept and refuse exactly what the C++ one does, with its messages.
package dev.mayfly.kafka.spiffe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.util.List;

class SpiffeIdTest {
    private static String error(String s) {
        return assertThrows(InvalidSpiffeIdException.class, () -> SpiffeId.fromString(s), s)
                .getMessage();
    }

    private static void assertError(String s, String prefix) {
        String message = error(s);
        assertTrue(message.startsWith(prefix), s + ": " + message);
    }

    private static boolean isTrustDomainChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    }

    private static boolean isPathChar(char c) {
        return isTrustDomainChar(c) || (c >= 'A' && c <= 'Z');
    }

    private static boolean parses(String s) {
        try {
            SpiffeId.fromString(s);
            return true;
        } catch (InvalidSpiffeIdException e) {
            return false;
        }
    }

    @Test
    void parsesIds() throws Exception {
        SpiffeId id = SpiffeId.fromString("spiffe://k8s-west.example_1.org/ns/prod/sa/web");
        assertEquals("k8s-west.example_1.org", id.trustDomain().name());
        assertEquals("/ns/prod/sa/web", id.path());
        assertEquals(List.of("ns", "prod", "sa", "web"), id.segments());
        assertEquals("spiffe://k8s-west.example_1.org/ns/prod/sa/web", id.toString());
        SpiffeId bare = SpiffeId.fromString("spiffe://example.org");
        assertEquals("", bare.path());
        assertEquals(List.of(), bare.segments());
        assertEquals(
                List.of("Web-FE_2", ".a", "a.", "...", "9"),
                SpiffeId.fromString("spiffe://example.org/Web-FE_2/.a/a./.../9").segments());
    }

    @Test
    void oneMessagePerRule() {
        assertEquals("SPIFFE ID cannot be empty: \"\"", error(""));
        for (String s :
                List.of(
                        "example.org",
                        "http://example.org",
                        "SPIFFE://example.org",
                        "spiffe:/example.org",
                        " spiffe://example.org")) {
            assertError(s, "scheme is missing or invalid");
        }
        assertEquals("trust domain is missing: \"spiffe://\"", error("spiffe://"));
        assertEquals(
                "trust domain characters are limited to lowercase letters, numbers, dots,"
                        + " dashes, and underscores: \"spiffe://Example.org\"",
                error("spiffe://Example.org"));
        assertError("spiffe://example.org:8080/ns", "trust domain cannot have a port");
        assertError("spiffe://user:pass@example.org/a", "trust domain cannot have userinfo");
        assertError("spiffe://example.org/a//b", "path cannot contain empty segments");
        assertError("spiffe://example.org/a/b/", "path cannot have a trailing slash");
        assertError("spiffe://example.org/a/../b", "path cannot contain dot segments");
        assertError(
                "spiffe://example.org/a b",
                "path segment characters are limited to letters,"
                        + " numbers, dots, dashes, and underscores");
        assertError("spiffe://example.org/caf\u00e9", "path segment characters are limited");
        assertError("spiffe://ex%61mple.org", "percent-encoded characters are not allowed");
        assertError("spiffe://example.org/a#b", "SPIFFE ID cannot have a query or fragment");
        assertEquals(
                "path segment characters are limited to letters, numbers, dots, dashes, and"
                        + " underscores: \"spiffe://example.org/a\\n\\\"b\"",
                error("spiffe://example.org/a\n\"b"));
    }

    // Cases from the engine factory's former parser (dev.mayfly.kafka.ssl.SpiffeId),
    // which rejected the same strings with its own words.
    @Test
    void moreRejectionsOneRuleEach() {
        assertError("https://example.org/a", "scheme is missing or invalid");
        assertError("spiffe:///a", "trust domain is missing");
        assertError("spiffe://user@example.org/a", "trust domain cannot have userinfo");
        assertError("spiffe://example.org/", "path cannot have a trailing slash");
        assertError("spiffe://example.org//a", "path cannot contain empty segments");
        assertError("spiffe://example.org/./a", "path cannot contain dot segments");
        assertError("spiffe://example.org/a/..", "path cannot contain dot segments");
        assertError("spiffe://example.org/a?b=c", "SPIFFE ID cannot have a query or fragment");
        assertError("spiffe://example.org/a%20b", "percent-encoded characters are not allowed");
    }

    @Test
    void equalityIsByValue() throws Exception {
        SpiffeId a = SpiffeId.fromString("spiffe://a.b/c");
        SpiffeId b = SpiffeId.fromString("spiffe://a.b/c");
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertEquals(TrustDomain.fromString("a.b"), a.trustDomain());
        assertFalse(a.equals(SpiffeId.fromString("spiffe://a.b/C")));
        assertFalse(a.equals(SpiffeId.fromString("spiffe://a.bc")));
    }

    @Test
    void acceptsExactlyTheAllowedCharacters() {
        for (char c = 0; c < 256; c++) {
            assertEquals(
                    isTrustDomainChar(c) || c == '/', parses("spiffe://a" + c + "b"), "char " + +c);
            assertEquals(
                    isPathChar(c) || c == '/',
                    parses("spiffe://example.org/a" + c + "b"),
                    "char " + +c);
            assertEquals(
                    isPathChar(c) && c != '.', parses("spiffe://example.org/x/" + c), "char " + +c);
        }
    }

    @Test
    void lengthLimitsAreExact() throws Exception {
        String prefix = "spiffe://example.org/";
        String max = prefix + "a".repeat(2048 - prefix.length());
        assertEquals(max, SpiffeId.fromString(max).toString());
        String tooLong = error(max + "a");
        assertTrue(
                tooLong.startsWith("SPIFFE ID is too long (the maximum is 2048 bytes): \""),
                tooLong);
        assertTrue(tooLong.endsWith("aaa...\" (2049 bytes)"), tooLong);
        // Bytes, not characters: 2048 characters, one of them 2 bytes in UTF-8, are 2049 bytes.
        assertError(max.substring(0, 2047) + "\u00e9", "SPIFFE ID is too long");
        String td = "a".repeat(255);
        assertEquals(td, TrustDomain.fromString(td).name());
        assertError("spiffe://" + td + "a/x", "trust domain is too long");
        assertEquals(td, SpiffeId.fromString("spiffe://" + td + "/x").trustDomain().name());
    }

    @Test
    void trustDomainFromNameOrId() throws Exception {
        assertEquals("example.org", TrustDomain.fromString("example.org").name());
        assertEquals("example.org", TrustDomain.fromString("spiffe://example.org/ns/prod").name());
        assertEquals("spiffe://example.org", TrustDomain.fromString("example.org").idString());
        assertThrows(InvalidSpiffeIdException.class, () -> TrustDomain.fromString("SPIFFE://a"));
        assertThrows(InvalidSpiffeIdException.class, () -> TrustDomain.fromString("user@a"));
    }

    @Test
    void patterns() throws Exception {
        SpiffeIdPattern rest = SpiffeIdPattern.fromString("spiffe://t/ns/**");
        assertTrue(rest.matches(SpiffeId.fromString("spiffe://t/ns/a")));
        assertTrue(rest.matches(SpiffeId.fromString("spiffe://t/ns/a/b")));
        assertFalse(rest.matches(SpiffeId.fromString("spiffe://t/ns")));
        assertFalse(rest.matches(SpiffeId.fromString("spiffe://u/ns/a")));
        SpiffeIdPattern one = SpiffeIdPattern.fromString("spiffe://t/ns/*/sa");
        assertTrue(one.matches(SpiffeId.fromString("spiffe://t/ns/x/sa")));
        assertFalse(one.matches(SpiffeId.fromString("spiffe://t/ns/x/y/sa")));
        assertFalse(one.matches(SpiffeId.fromString("spiffe://t/ns/x/sab")));
        SpiffeIdPattern literal = SpiffeIdPattern.fromString("spiffe://t/a");
        assertFalse(literal.matches(SpiffeId.fromString("spiffe://t/ab")));
        assertFalse(literal.matches(SpiffeId.fromString("spiffe://t/A")));
        assertEquals(
                "pattern wildcards must be a whole segment (\"*\" or \"**\"): \"spiffe://t/web-*\"",
                assertThrows(
                                InvalidSpiffeIdException.class,
                                () -> SpiffeIdPattern.fromString("spiffe://t/web-*"))
                        .getMessage());
        assertEquals(
                "pattern wildcard \"**\" may only be the last segment: \"spiffe://t/**/a\"",
                assertThrows(
                                InvalidSpiffeIdException.class,
                                () -> SpiffeIdPattern.fromString("spiffe://t/**/a"))
                        .getMessage());
    }
}
