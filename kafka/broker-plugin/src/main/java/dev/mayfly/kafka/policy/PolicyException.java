// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// A policy file that cannot be used. The message reads
// "FILE:LINE: FIELD: what", in the words of the C++ loader (bridge/policy.cc)
// where practical, so an operator sees the same error from
// `mayfly bridge map` and from the broker.
package dev.mayfly.kafka.policy;

public final class PolicyException extends Exception {
    private static final long serialVersionUID = 1L;

    public PolicyException(String message) {
        super(message);
    }

    public PolicyException(String message, Throwable cause) {
        super(message, cause);
    }
}
