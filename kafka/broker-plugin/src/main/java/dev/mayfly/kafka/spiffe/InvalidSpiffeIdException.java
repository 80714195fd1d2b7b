// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// A string that is not a SPIFFE ID, trust domain or pattern by the spec's
// rules. The message names the rule and quotes the input, with the same
// words as identity/spiffe_id.cc, so C++ and Java errors read alike.
package dev.mayfly.kafka.spiffe;

public final class InvalidSpiffeIdException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidSpiffeIdException(String message) {
        super(message);
    }
}
