// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The load-time checks of the policy's `acls` grants, as
// bridge/policy_acls.cc makes them, so a file the C++ bridge refuses is
// refused by the broker plugin too. The plugin does not apply grants (that
// is `mayfly bridge apply`'s job through the cluster metadata), so only the
// number of bindings is kept.
package dev.mayfly.kafka.policy;

import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.SequenceNode;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

final class PolicyAcls {
    private PolicyAcls() {}

    private static final List<String> RESOURCE_TYPES =
            List.of("topic", "group", "cluster", "transactional_id");
    private static final List<String> PATTERN_TYPES = List.of("literal", "prefixed");
    private static final List<String> OPERATIONS =
            List.of(
                    "all",
                    "read",
                    "write",
                    "create",
                    "delete",
                    "alter",
                    "describe",
                    "cluster_action",
                    "describe_configs",
                    "alter_configs",
                    "idempotent_write");
    private static final List<String> PERMISSIONS = List.of("allow", "deny");
    // Kafka's AclEntry.supportedOperations per resource type, in the C++ order.
    private static final Map<String, List<String>> SUPPORTED =
            Map.of(
                    "topic",
                    List.of(
                            "read",
                            "write",
                            "create",
                            "delete",
                            "alter",
                            "describe",
                            "describe_configs",
                            "alter_configs",
                            "all"),
                    "group",
                    List.of("read", "describe", "delete", "all"),
                    "cluster",
                    List.of(
                            "create",
                            "cluster_action",
                            "describe_configs",
                            "alter_configs",
                            "idempotent_write",
                            "alter",
                            "describe",
                            "all"),
                    "transactional_id",
                    List.of("describe", "write", "all"));
    // Kafka's only name for the cluster resource.
    private static final String CLUSTER_RESOURCE_NAME = "kafka-cluster";

    /** Checks every grant; returns the number of distinct bindings. */
    static int check(YamlReader r, Node node, Predicate<String> owns) throws PolicyException {
        if (!(node instanceof SequenceNode seq)) {
            throw r.error(node, "acls", "want a list");
        }
        Set<List<String>> bindings = new HashSet<>();
        List<Node> grants = seq.getValue();
        for (int i = 0; i < grants.size(); i++) {
            checkGrant(r, grants.get(i), "acls[" + i + "]", owns, bindings);
        }
        return bindings.size();
    }

    private static String word(
            YamlReader r, Node node, String field, String what, List<String> valid)
            throws PolicyException {
        String text = r.string(node, field);
        if (!valid.contains(text)) {
            throw r.error(
                    node,
                    field,
                    "\""
                            + text
                            + "\" is not a "
                            + what
                            + "; want one of "
                            + String.join(", ", valid));
        }
        return text;
    }

    private static void checkGrant(
            YamlReader r,
            Node node,
            String field,
            Predicate<String> owns,
            Set<List<String>> bindings)
            throws PolicyException {
        r.checkKeys(
                node,
                field,
                new TreeSet<>(
                        List.of("principal", "resource", "operations", "permission", "host")));
        for (String key : List.of("principal", "resource", "operations")) {
            if (YamlReader.get(node, key) == null) {
                throw r.error(node, field, key + " is required");
            }
        }
        Node principalNode = YamlReader.get(node, "principal");
        String principal = r.string(principalNode, field + ".principal");
        try {
            PrincipalTemplate.checkPrincipal(principal);
        } catch (RulePattern.Invalid e) {
            throw r.error(principalNode, field + ".principal", e.getMessage());
        }
        if (!owns.test(principal)) {
            throw r.error(
                    principalNode,
                    field + ".principal",
                    "no rule in principals maps an ID to \""
                            + principal
                            + "\", so the policy would not own its ACLs (plan and apply manage only"
                            + " the principals the policy maps to)");
        }
        // resource
        Node res = YamlReader.get(node, "resource");
        String resField = field + ".resource";
        r.checkKeys(res, resField, new TreeSet<>(List.of("type", "name", "pattern")));
        if (YamlReader.get(res, "type") == null) {
            throw r.error(res, resField, "type is required");
        }
        String type =
                word(
                        r,
                        YamlReader.get(res, "type"),
                        resField + ".type",
                        "resource type",
                        RESOURCE_TYPES);
        String pattern = "literal";
        Node patternNode = YamlReader.get(res, "pattern");
        if (patternNode != null) {
            pattern = word(r, patternNode, resField + ".pattern", "pattern type", PATTERN_TYPES);
        }
        Node nameNode = YamlReader.get(res, "name");
        String name = "";
        if (nameNode != null) {
            name = r.string(nameNode, resField + ".name");
            if (name.isEmpty()) {
                throw r.error(nameNode, resField + ".name", "must not be empty");
            }
        } else if (!type.equals("cluster")) {
            throw r.error(res, resField, "name is required");
        }
        if (type.equals("cluster")) {
            if (!name.isEmpty() && !name.equals(CLUSTER_RESOURCE_NAME)) {
                throw r.error(
                        nameNode,
                        resField + ".name",
                        "\""
                                + name
                                + "\": the cluster resource is always named "
                                + CLUSTER_RESOURCE_NAME);
            }
            if (!pattern.equals("literal")) {
                throw r.error(
                        patternNode,
                        resField + ".pattern",
                        "the cluster resource is named literally");
            }
            name = CLUSTER_RESOURCE_NAME;
        }
        String permission = "allow";
        Node permissionNode = YamlReader.get(node, "permission");
        if (permissionNode != null) {
            permission = word(r, permissionNode, field + ".permission", "permission", PERMISSIONS);
        }
        Node hostNode = YamlReader.get(node, "host");
        if (hostNode != null) {
            String host = r.string(hostNode, field + ".host");
            if (!host.equals("*")) {
                throw r.error(
                        hostNode,
                        field + ".host",
                        "\""
                                + host
                                + "\": only \"*\"; a client address is no identity, the SPIFFE ID"
                                + " is");
            }
        }
        Node ops = YamlReader.get(node, "operations");
        String opsField = field + ".operations";
        if (!(ops instanceof SequenceNode opsSeq) || opsSeq.getValue().isEmpty()) {
            throw r.error(ops, opsField, "want a list of one or more operations");
        }
        List<String> supported = SUPPORTED.get(type);
        for (int i = 0; i < opsSeq.getValue().size(); i++) {
            Node opNode = opsSeq.getValue().get(i);
            String opField = opsField + "[" + i + "]";
            String op = word(r, opNode, opField, "operation", OPERATIONS);
            if (!supported.contains(op)) {
                throw r.error(
                        opNode,
                        opField,
                        op
                                + " is not an operation on a "
                                + type
                                + " (valid: "
                                + String.join(", ", supported)
                                + ")");
            }
            bindings.add(List.of(principal, type, name, pattern, op, permission));
        }
    }
}
