// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Why an ID has no principal. The names are part of the vectors file the
// C++ and Java mappers both pass (bridge/testdata/mapping_vectors.yaml).
package dev.mayfly.kafka.policy;

public enum Denial {
    /** Not a SPIFFE ID by the spec's rules. */
    INVALID_ID("invalid_id"),
    /** A trust domain not in trust_domains. */
    FOREIGN_TRUST_DOMAIN("foreign_trust_domain"),
    /** No rule matches and unmapped is deny. */
    UNMAPPED("unmapped");

    private final String policyName;

    Denial(String policyName) {
        this.policyName = policyName;
    }

    /** "invalid_id", "foreign_trust_domain" or "unmapped". */
    public String policyName() {
        return policyName;
    }
}
