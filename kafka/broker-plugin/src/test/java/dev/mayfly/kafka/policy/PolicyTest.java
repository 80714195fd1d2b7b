// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// What the Java loader adds around SnakeYAML (duplicate keys at any depth,
// one document only, scalars as written) and what the vectors do not
// cover: `unmapped: anonymous`, ownership, super users, details.
package dev.mayfly.kafka.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

class PolicyTest {
    private static final String BASE =
            "trust_domains: [t]\n"
                    + "principals:\n"
                    + "  - id: spiffe://t/ns/{ns}/sa/{sa}\n"
                    + "    principal: User:{ns}.{sa}\n";

    private static String error(String yaml) {
        return assertThrows(PolicyException.class, () -> Policy.parse(yaml, "p.yaml")).getMessage();
    }

    @Test
    void refusesKeysGivenTwiceAtAnyDepth() {
        assertEquals(
                "p.yaml:5: principals[0].principal: key given twice (first at line 4)",
                error(BASE + "    principal: User:x\n"));
    }

    @Test
    void refusesASecondDocument() {
        assertEquals(
                "p.yaml:5: a second YAML document (after ---); a config is one document",
                error(BASE + "---\nunmapped: deny\n"));
    }

    @Test
    void reportsSyntaxErrorsWithTheLine() {
        // yaml-cpp words the problem differently; FILE:LINE and the prefix agree.
        String e = error("trust_domains: [t\nprincipals: []\n");
        assertTrue(e.startsWith("p.yaml:2: not valid YAML: "), e);
    }

    @Test
    void readsScalarsAsWritten() throws Exception {
        // "true" and "1" are strings to the policy, as to yaml-cpp.
        Policy p =
                Policy.parse(
                        "trust_domains: [t]\nprincipals:\n  - id: spiffe://t/1\n"
                                + "    principal: User:true\n",
                        "p.yaml");
        assertEquals(Optional.of("User:true"), p.map("spiffe://t/1").principal());
        // Same line as `mayfly bridge check`. (An empty value, "unmapped:" alone,
        // is placed on its own line by SnakeYAML and on the next by yaml-cpp.)
        assertEquals("p.yaml:5: unmapped: want a string", error(BASE + "unmapped: ~\n"));
    }

    @Test
    void unmappedAnonymous() throws Exception {
        Policy p = Policy.parse(BASE + "unmapped: anonymous\n", "p.yaml");
        MapResult r = p.map("spiffe://t/other");
        assertEquals(Optional.of("User:ANONYMOUS"), r.principal());
        assertEquals("no rule matches; unmapped: anonymous", r.detail());
        // Only for IDs of listed trust domains, and only for valid IDs.
        assertEquals(Denial.FOREIGN_TRUST_DOMAIN, p.map("spiffe://u/x").denial());
        assertEquals(Denial.INVALID_ID, p.map("spiffe://t/x/").denial());
        assertTrue(p.owns("User:ANONYMOUS"));
    }

    @Test
    void mapsWithTheRuleThatMatched() throws Exception {
        Policy p = Policy.parse(BASE + "super_users: [User:a.b]\n", "p.yaml");
        assertEquals(
                new MapResult(
                        Optional.of("User:ns1.web"),
                        null,
                        "principals[0] at p.yaml:3: spiffe://t/ns/{ns}/sa/{sa}"),
                p.map("spiffe://t/ns/ns1/sa/web"));
        assertEquals(List.of("User:a.b"), p.superUsers());
        assertTrue(p.owns("User:a.b"));
        assertFalse(p.owns("User:a"));
        assertFalse(p.owns("User:a/b.c"));
        assertFalse(p.owns("User:ANONYMOUS"));
    }
}
