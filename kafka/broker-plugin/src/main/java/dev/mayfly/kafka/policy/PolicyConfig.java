// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The broker property that names the Mayfly policy file, read one way by
// every plugin class that needs the policy (principal builder, authorizer,
// engine factory): each gets the JVM's shared PolicySource for the file, so
// they hold one copy and follow its reloads together. A missing or
// unreadable policy is a ConfigException that names the property, so the
// broker refuses to start and says why.
package dev.mayfly.kafka.policy;

import org.apache.kafka.common.config.ConfigException;

import java.util.Map;

public final class PolicyConfig {
    /** The broker property naming the policy file (docs/kafka.md). */
    public static final String POLICY_FILE_CONFIG = "mayfly.policy.file";

    private PolicyConfig() {}

    /**
     * The policy {@code configs} names; a ConfigException when it names none ("... is required:
     * {@code purpose}") or the file does not load.
     */
    public static PolicySource required(Map<String, ?> configs, String purpose) {
        PolicySource policy = optional(configs);
        if (policy == null) {
            throw new ConfigException(POLICY_FILE_CONFIG + " is required: " + purpose);
        }
        return policy;
    }

    /** The policy {@code configs} names, or null when it names none; a ConfigException if bad. */
    public static PolicySource optional(Map<String, ?> configs) {
        Object file = configs.get(POLICY_FILE_CONFIG);
        if (file == null || file.toString().isEmpty()) {
            return null;
        }
        try {
            return PolicySource.shared(file.toString());
        } catch (PolicyException e) {
            throw new ConfigException(POLICY_FILE_CONFIG + ": " + e.getMessage());
        }
    }
}
