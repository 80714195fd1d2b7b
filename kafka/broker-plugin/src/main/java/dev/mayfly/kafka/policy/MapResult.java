// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// What Policy.map gives for one ID: a principal ("User:orders.writer"), or
// a Denial; `detail` says which rule matched or what is wrong, for people.
package dev.mayfly.kafka.policy;

import java.util.Optional;

public record MapResult(Optional<String> principal, Denial denial, String detail) {
    static MapResult mapped(String principal, String detail) {
        return new MapResult(Optional.of(principal), null, detail);
    }

    static MapResult denied(Denial denial, String detail) {
        return new MapResult(Optional.empty(), denial, detail);
    }

    public boolean isMapped() {
        return principal.isPresent();
    }
}
