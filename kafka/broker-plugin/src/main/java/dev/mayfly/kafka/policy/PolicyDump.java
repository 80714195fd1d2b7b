// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// PolicyDump [--ids FILE] POLICY...: each policy file as the broker plugin
// loads it, in the canonical text of bridge/policy_dump.h, headed "== POLICY"
// (its base name, also the source in errors); with --ids, also what each
// line of FILE (an ID to map) maps to. tests/yaml_differential.sh feeds the
// same files to this and to the C++ bridge's policy_dump_main and compares.
// Also shows an operator what the broker would enforce:
// java -cp mayfly-kafka-broker-plugin.jar dev.mayfly.kafka.policy.PolicyDump p.yaml
package dev.mayfly.kafka.policy;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

public final class PolicyDump {
    // As kProbes in bridge/policy_dump.cc, in the same order.
    private static final List<String> PROBES =
            List.of(
                    "spiffe://prod.acme/ns/payments/sa/admin",
                    "spiffe://prod.acme/ns/a/sa/b",
                    "spiffe://prod.acme/kafka/broker",
                    "spiffe://prod.acme/team/x/y/z",
                    "spiffe://prod.acme/region/eu/svc/s",
                    "spiffe://prod.acme/groups/g",
                    "spiffe://staging.acme/ns/a/sa/b",
                    "spiffe://staging.acme",
                    "spiffe://prod.acme/ns/x",
                    "spiffe://prod.acme/other",
                    "spiffe://evil.acme/x");

    private PolicyDump() {}

    /** The canonical dump of `yaml`, or "error: MESSAGE\n"; `moreIds` mapped after the probes. */
    public static String dump(byte[] yaml, String source, List<String> moreIds) {
        Policy policy;
        try {
            policy = Policy.parse(yaml, source);
        } catch (PolicyException e) {
            return "error: " + e.getMessage() + "\n";
        }
        StringBuilder out = new StringBuilder();
        out.append("trust_domains: ")
                .append(
                        policy.trustDomains().stream()
                                .map(td -> td.name())
                                .collect(Collectors.joining(", ")))
                .append('\n');
        out.append("rules: ").append(policy.ruleCount()).append('\n');
        out.append("super_users: ").append(String.join(", ", policy.superUsers())).append('\n');
        out.append("acl_bindings: ").append(policy.aclBindingCount()).append('\n');
        out.append("owns User:ANONYMOUS: ").append(policy.owns(Policy.ANONYMOUS)).append('\n');
        for (String id : PROBES) {
            appendMap(policy, id, out);
        }
        for (String id : moreIds) {
            appendMap(policy, id, out);
        }
        return out.toString();
    }

    private static void appendMap(Policy policy, String id, StringBuilder out) {
        MapResult m = policy.map(id);
        out.append("map ")
                .append(id)
                .append(": ")
                .append(m.isMapped() ? m.principal().get() : "denied " + m.denial().policyName())
                .append(" (")
                .append(m.detail())
                .append(")\n");
    }

    public static void main(String[] args) throws IOException {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        List<String> ids = List.of();
        int first = 0;
        if (args.length > 1 && args[0].equals("--ids")) {
            // Split on '\n' alone, as the C++ tool does (readAllLines would
            // also split on '\r').
            ids =
                    List.of(Files.readString(Path.of(args[1]), StandardCharsets.UTF_8).split("\n"))
                            .stream()
                            .filter(line -> !line.isEmpty())
                            .collect(Collectors.toList());
            first = 2;
        }
        for (int i = first; i < args.length; i++) {
            Path path = Path.of(args[i]);
            String name = path.getFileName().toString();
            out.print("== " + name + "\n" + dump(Files.readAllBytes(path), name, ids));
        }
        out.flush();
    }
}
