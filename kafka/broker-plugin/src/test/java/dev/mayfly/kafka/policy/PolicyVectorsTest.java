// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The shared policy load vectors (bridge/testdata/policy_errors.yaml)
// against the Java loader: each case is refused with exactly its message,
// or loads with exactly its brokers, as with the C++ loader
// (bridge/policy_vectors_test.cc). All mismatches are reported together.
package dev.mayfly.kafka.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.spiffe.SpiffeIdPattern;
import dev.mayfly.kafka.testing.RepoFiles;

import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

class PolicyVectorsTest {
    private static final Set<String> CASE_KEYS =
            Set.of("policy", "error", "brokers", "broker_ids", "not_broker_ids");

    @SuppressWarnings("unchecked")
    private static List<String> strings(Map<String, Object> c, String key) {
        Object value = c.get(key);
        return value == null ? List.of() : (List<String>) value;
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyCaseLoadsAsWritten() throws Exception {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        Map<String, Object> root =
                new Yaml(options)
                        .load(
                                Files.readString(
                                        RepoFiles.find("bridge/testdata/policy_errors.yaml"),
                                        StandardCharsets.UTF_8));
        assertEquals(Set.of("cases"), root.keySet());
        List<Map<String, Object>> cases = (List<Map<String, Object>>) root.get("cases");
        List<String> mismatches = new ArrayList<>();
        int errors = 0;
        int loads = 0;
        for (int i = 0; i < cases.size(); i++) {
            Map<String, Object> c = cases.get(i);
            String where = "cases[" + i + "]";
            if (!CASE_KEYS.containsAll(c.keySet())
                    || !c.containsKey("policy")
                    || c.containsKey("error") == c.containsKey("brokers")) {
                mismatches.add(where + ": want policy and one of error, brokers: " + c.keySet());
                continue;
            }
            Policy policy;
            try {
                policy = Policy.parse((String) c.get("policy"), "p.yaml");
            } catch (PolicyException e) {
                if (!e.getMessage().equals(c.get("error"))) {
                    mismatches.add(
                            where + ": want " + c.get("error") + "\n    got " + e.getMessage());
                }
                errors++;
                continue;
            }
            if (c.containsKey("error")) {
                errors++;
                mismatches.add(where + ": loaded; want " + c.get("error"));
                continue;
            }
            loads++;
            List<String> brokers =
                    policy.brokers().stream().map(SpiffeIdPattern::toString).toList();
            if (!brokers.equals(strings(c, "brokers"))) {
                mismatches.add(where + ": brokers " + brokers + ", want " + c.get("brokers"));
            }
            for (String id : strings(c, "broker_ids")) {
                if (!policy.isBroker(SpiffeId.fromString(id))) {
                    mismatches.add(where + ": " + id + " is not a broker");
                }
            }
            for (String id : strings(c, "not_broker_ids")) {
                if (policy.isBroker(SpiffeId.fromString(id))) {
                    mismatches.add(where + ": " + id + " is a broker");
                }
            }
        }
        assertTrue(
                mismatches.isEmpty(),
                mismatches.size() + " mismatches:\n" + String.join("\n", mismatches));
        // Both kinds stay in the file.
        assertTrue(errors >= 10, "only " + errors + " error cases");
        assertTrue(loads >= 3, "only " + loads + " loading cases");
    }
}
