// SpiffeId: one case per rule of SPIFFE-ID.md section 2, valid and invalid.
package dev.mayfly.kafka.ssl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SpiffeIdTest {
    @Test
    void parsesTrustDomainAndPath() {
        SpiffeId id = SpiffeId.parse("spiffe://example.org/kafka/broker-1.a_b");
        assertEquals("example.org", id.trustDomain());
        assertEquals("/kafka/broker-1.a_b", id.path());
        assertEquals("spiffe://example.org/kafka/broker-1.a_b", id.toString());
    }

    @Test
    void parsesTrustDomainOnly() {
        SpiffeId id = SpiffeId.parse("spiffe://example.org");
        assertEquals("example.org", id.trustDomain());
        assertEquals("", id.path());
    }

    @Test
    void equalityIsByValue() {
        assertEquals(SpiffeId.parse("spiffe://a.b/c"), SpiffeId.parse("spiffe://a.b/c"));
        assertEquals(SpiffeId.parse("spiffe://a.b/c").hashCode(), SpiffeId.parse("spiffe://a.b/c").hashCode());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "''|SPIFFE ID is empty",
        "https://example.org/a|must start with spiffe://",
        "SPIFFE://example.org/a|must start with spiffe://",
        "spiffe:///a|trust domain is empty",
        "spiffe://Example.org/a|trust domain may hold only",
        "spiffe://example.org:8080/a|trust domain may hold only",
        "spiffe://user@example.org/a|trust domain may hold only",
        "spiffe://example.org/|path segments must not be empty",
        "spiffe://example.org//a|path segments must not be empty",
        "spiffe://example.org/a/|path segments must not be empty",
        "spiffe://example.org/./a|path segments must not be . or ..",
        "spiffe://example.org/a/..|path segments must not be . or ..",
        "spiffe://example.org/a?b=c|path may hold only",
        "spiffe://example.org/a#b|path may hold only",
        "spiffe://example.org/a%20b|path may hold only",
    })
    void rejectsByRule(String input, String rule) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SpiffeId.parse(input));
        assertTrue(e.getMessage().contains(rule), e.getMessage());
    }

    @Test
    void rejectsOverlongIdAndTrustDomain() {
        String longPath = "spiffe://example.org/" + "a".repeat(SpiffeId.MAX_ID_LENGTH);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SpiffeId.parse(longPath))
            .getMessage().contains("longer than 2048"));
        String longTd = "spiffe://" + "a".repeat(SpiffeId.MAX_TRUST_DOMAIN_LENGTH + 1);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SpiffeId.parse(longTd))
            .getMessage().contains("longer than 255"));
        assertEquals(SpiffeId.MAX_TRUST_DOMAIN_LENGTH,
            SpiffeId.parse("spiffe://" + "a".repeat(SpiffeId.MAX_TRUST_DOMAIN_LENGTH)).trustDomain().length());
    }
}
