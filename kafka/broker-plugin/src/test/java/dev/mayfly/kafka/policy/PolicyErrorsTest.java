// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Every load-time check of the policy with its exact message, ported case
// for case from bridge/policy_errors_test.cc: the C++ bridge and the broker
// plugin must refuse the same files with the same words.
package dev.mayfly.kafka.policy;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PolicyErrorsTest {
    // A valid head: one trust domain and two rules (lines 1-6).
    private static final String HEAD =
            "trust_domains: [prod.acme]\n" // 1
                    + "principals:\n" // 2
                    + "  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}\n" // 3
                    + "    principal: User:{ns}.{sa}\n" // 4
                    + "  - id: spiffe://prod.acme/kafka/broker\n" // 5
                    + "    principal: User:broker\n"; // 6

    private static String rule(String id, String principal) {
        return "  - id: " + id + "\n    principal: " + principal + "\n";
    }

    // acls[0] starts on line 8.
    private static String acl(String body) {
        return HEAD + "acls:\n  - " + body + "\n";
    }

    private static void expectError(String yaml, String message) {
        PolicyException e = assertThrows(PolicyException.class, () -> Policy.parse(yaml, "p.yaml"));
        assertEquals(message, e.getMessage());
    }

    @Test
    void topLevel() {
        expectError(
                (""),
                ("p.yaml: policy: want a map with "
                        + "trust_domains, brokers, principals, "
                        + "unmapped, super_users and acls"));
        expectError(("principals: []\n"), ("p.yaml:1: trust_domains: required"));
        expectError(("trust_domains: [t]\n"), ("p.yaml:1: principals: required"));
        expectError(
                ("trust_domains: [t]\nprincipals: []\nacl: []\n"),
                ("p.yaml:3: acl: unknown key (known: acls, brokers, "
                        + "principals, super_users, trust_domains, unmapped)"));
        expectError(
                ("trust_domains: [t]\nprincipals: []\ntrust_domains: [u]\n"),
                ("p.yaml:3: trust_domains: key given twice (first at " + "line 1)"));
        expectError(
                ("trust_domains: [t]\nprincipals: {}\n"), ("p.yaml:2: principals: want a list"));
        expectError(
                (HEAD + "unmapped: allow\n"),
                ("p.yaml:7: unmapped: \"allow\": want deny (the default) " + "or anonymous"));
    }

    @Test
    void trustDomains() {
        expectError(
                ("trust_domains: []\nprincipals: []\n"),
                ("p.yaml:1: trust_domains: list at least one trust " + "domain"));
        expectError(
                ("trust_domains: t\nprincipals: []\n"), ("p.yaml:1: trust_domains: want a list"));
        expectError(
                ("trust_domains: [t, spiffe://u]\nprincipals: []\n"),
                ("p.yaml:1: trust_domains[1]: \"spiffe://u\": want a bare name "
                        + "(prod.acme), not an ID"));
        expectError(
                ("trust_domains: [Prod.acme]\nprincipals: []\n"),
                ("p.yaml:1: trust_domains[0]: trust domain characters "
                        + "are limited to lowercase letters, numbers, dots, "
                        + "dashes, and underscores: \"Prod.acme\""));
        expectError(
                ("trust_domains:\n  - t\n  - t\nprincipals: []\n"),
                ("p.yaml:3: trust_domains[1]: t is listed twice"));
    }

    @Test
    void ruleShape() {
        expectError(
                (HEAD + "  - principal: User:x\n"), ("p.yaml:7: principals[2]: id is required"));
        expectError(
                (HEAD
                        + "  - id: spiffe://prod.acme/x\n"
                        + "    principal: User:x\n"
                        + "    note: hi\n"),
                ("p.yaml:9: principals[2].note: unknown key (known: id, " + "principal)"));
        expectError(
                (HEAD + rule("spiffe://other/x", "User:x")),
                ("p.yaml:7: principals[2].id: trust domain other is not " + "in trust_domains"));
        expectError(
                (HEAD + rule("spiffe://prod.acme/x/", "User:x")),
                ("p.yaml:7: principals[2].id: path cannot have a trailing "
                        + "slash: \"spiffe://prod.acme/x/\""));
    }

    @Test
    void captures() {
        expectError(
                (HEAD + rule("spiffe://prod.acme/ns-{x}", "User:{x}")),
                ("p.yaml:7: principals[2].id: a capture must be a whole path "
                        + "segment, like /{name}/: \"ns-{x}\""));
        expectError(
                (HEAD + rule("spiffe://prod.acme/a/{x}/b/{x}", "User:{x}")),
                ("p.yaml:7: principals[2].id: capture {x} appears twice " + "in the pattern"));
        expectError(
                (HEAD + rule("spiffe://prod.acme/a/{x}", "User:{y}")),
                ("p.yaml:8: principals[2].principal: {y} is not a "
                        + "capture of the id pattern (its captures: x): "
                        + "\"User:{y}\""));
        expectError(
                (HEAD + rule("spiffe://prod.acme/a/{x}", "\"User:{x\"")),
                ("p.yaml:8: principals[2].principal: '{' without its " + "'}': \"User:{x\""));
        expectError(
                (HEAD + rule("spiffe://prod.acme/a/{x}", "\"User:x}\"")),
                ("p.yaml:8: principals[2].principal: '}' without its " + "'{': \"User:x}\""));
    }

    @Test
    void principalForm() {
        expectError(
                (HEAD + rule("spiffe://prod.acme/a", "broker")),
                ("p.yaml:8: principals[2].principal: \"broker\" is not a "
                        + "principal: want TYPE:NAME, like User:orders"));
        expectError(
                (HEAD + rule("spiffe://prod.acme/a", "\":broker\"")),
                ("p.yaml:8: principals[2].principal: \":broker\" is not a "
                        + "principal: want TYPE:NAME, like User:orders"));
        expectError(
                (HEAD + rule("spiffe://prod.acme/a", "U-1:broker")),
                ("p.yaml:8: principals[2].principal: \"U-1:broker\": a "
                        + "principal's TYPE is letters, like User"));
    }

    @Test
    void unreachableRules() {
        // A literal after the capture rule that covers it.
        expectError(
                (HEAD + rule("spiffe://prod.acme/ns/payments/sa/admin", "User:admin")),
                ("p.yaml:7: principals[2].id: unreachable: the rule at p.yaml:3 "
                        + "(principals[0], spiffe://prod.acme/ns/{ns}/sa/{sa}) matches "
                        + "every ID this one matches, and the first match wins"));
        // A duplicate.
        expectError(
                (HEAD + rule("spiffe://prod.acme/kafka/broker", "User:broker2")),
                ("p.yaml:7: principals[2].id: unreachable: the rule at p.yaml:5 "
                        + "(principals[1], spiffe://prod.acme/kafka/broker) matches every "
                        + "ID this one matches, and the first match wins"));
        // "*" and a capture are the same to matching.
        expectError(
                (HEAD + rule("spiffe://prod.acme/ns/*/sa/{sa}", "User:{sa}")),
                ("p.yaml:7: principals[2].id: unreachable: the rule at p.yaml:3 "
                        + "(principals[0], spiffe://prod.acme/ns/{ns}/sa/{sa}) matches "
                        + "every ID this one matches, and the first match wins"));
        // "**" shadows anything longer below it.
        expectError(
                ("trust_domains: [t]\nprincipals:\n"
                        + rule("spiffe://t/a/**", "User:a")
                        + rule("spiffe://t/b", "User:b")
                        + rule("spiffe://t/a/x/{y}", "User:{y}")),
                ("p.yaml:7: principals[2].id: unreachable: the rule at p.yaml:3 "
                        + "(principals[0], spiffe://t/a/**) matches every ID this one "
                        + "matches, and the first match wins"));
        // Partial overlaps are fine either way round.
        assertDoesNotThrow(
                () ->
                        Policy.parse(
                                "trust_domains: [t]\nprincipals:\n"
                                        + rule("spiffe://t/a/{x}", "User:{x}")
                                        + rule("spiffe://t/{y}/b", "User:{y}")
                                        + rule("spiffe://t/a", "User:a")
                                        + rule("spiffe://t/a/**", "User:rest"),
                                "p.yaml"));
    }

    @Test
    void superUsers() {
        expectError(
                (HEAD + "super_users: [broker]\n"),
                ("p.yaml:7: super_users[0]: \"broker\" is not a "
                        + "principal: want TYPE:NAME, like User:orders"));
        expectError(
                (HEAD + "super_users: ['User:a;User:b']\n"),
                ("p.yaml:7: super_users[0]: ';' separates super.users " + "in Kafka's config"));
        expectError((HEAD + "super_users: User:a\n"), ("p.yaml:7: super_users: want a list"));
    }

    @Test
    void acls() {
        final String topic = "resource: {type: topic, name: t}";
        expectError(
                (acl("principal: User:nobody\n    " + topic + "\n    operations: [read]")),
                ("p.yaml:8: acls[0].principal: no rule in principals maps an ID "
                        + "to \"User:nobody\", so the policy would not own its ACLs (plan "
                        + "and apply manage only the principals the policy maps to)"));
        expectError(
                (acl("principal: nobody\n    " + topic + "\n    operations: [read]")),
                ("p.yaml:8: acls[0].principal: \"nobody\" is not a "
                        + "principal: want TYPE:NAME, like User:orders"));
        expectError(
                (acl("principal: User:broker\n    operations: [read]")),
                ("p.yaml:8: acls[0]: resource is required"));
        expectError(
                (acl("principal: User:broker\n    " + topic)),
                ("p.yaml:8: acls[0]: operations is required"));
        expectError(
                (acl("principal: User:broker\n    " + topic + "\n    operations: []")),
                ("p.yaml:10: acls[0].operations: want a list of one or " + "more operations"));
        expectError(
                (acl(
                        "principal: User:broker\n    "
                                + topic
                                + "\n    operations: [read, cluster_action]")),
                ("p.yaml:10: acls[0].operations[1]: cluster_action is not an "
                        + "operation on a topic (valid: read, write, create, delete, "
                        + "alter, describe, describe_configs, alter_configs, all)"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: group, "
                                + "name: g}\n    operations: [write]")),
                ("p.yaml:10: acls[0].operations[0]: write is not an "
                        + "operation on a group (valid: read, describe, delete, "
                        + "all)"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: "
                                + "transactional_id, name: x}\n    operations: [read]")),
                ("p.yaml:10: acls[0].operations[0]: read is not an "
                        + "operation on a transactional_id (valid: describe, "
                        + "write, all)"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: "
                                + "cluster}\n    operations: [read]")),
                ("p.yaml:10: acls[0].operations[0]: read is not an "
                        + "operation on a cluster (valid: create, cluster_action, "
                        + "describe_configs, alter_configs, idempotent_write, "
                        + "alter, describe, all)"));
        expectError(
                (acl("principal: User:broker\n    " + topic + "\n    operations: [fly]")),
                ("p.yaml:10: acls[0].operations[0]: \"fly\" is not a operation; "
                        + "want one of all, read, write, create, delete, alter, describe, "
                        + "cluster_action, describe_configs, alter_configs, "
                        + "idempotent_write"));
    }

    @Test
    void aclResources() {
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: "
                                + "cluster, name: c1}\n    operations: [alter]")),
                ("p.yaml:9: acls[0].resource.name: \"c1\": the cluster "
                        + "resource is always named kafka-cluster"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: "
                                + "cluster, pattern: prefixed}\n    operations: [alter]")),
                ("p.yaml:9: acls[0].resource.pattern: the cluster "
                        + "resource is named literally"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: topic, "
                                + "name: ''}\n    operations: [read]")),
                ("p.yaml:9: acls[0].resource.name: must not be empty"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: "
                                + "topic}\n    operations: [read]")),
                ("p.yaml:9: acls[0].resource: name is required"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: queue, "
                                + "name: q}\n    operations: [read]")),
                ("p.yaml:9: acls[0].resource.type: \"queue\" is not a "
                        + "resource type; want one of topic, group, cluster, "
                        + "transactional_id"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: topic, "
                                + "name: t, pattern: match}\n    operations: [read]")),
                ("p.yaml:9: acls[0].resource.pattern: \"match\" is not "
                        + "a pattern type; want one of literal, prefixed"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: topic, "
                                + "name: t}\n    operations: [read]\n    host: 10.0.0.1")),
                ("p.yaml:11: acls[0].host: \"10.0.0.1\": only \"*\"; a "
                        + "client address is no identity, the SPIFFE ID is"));
        expectError(
                (acl(
                        "principal: User:broker\n    resource: {type: topic, "
                                + "name: t}\n    operations: [read]\n    permission: "
                                + "maybe")),
                ("p.yaml:11: acls[0].permission: \"maybe\" is not a "
                        + "permission; want one of allow, deny"));
    }
}
