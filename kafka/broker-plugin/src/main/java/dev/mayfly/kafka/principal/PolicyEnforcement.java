// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Connections the principal builder closed because a reloaded policy no
// longer gives their SPIFFE ID the principal the connection started with
// (it maps to another principal now, or is denied). Static for the reason
// ExpiryEnforcement is: the broker makes a builder per listener, and the
// authorizer publishes the count as the gauge
// "policy-change-connection-closes"; tests read it here. Thread-safe.
package dev.mayfly.kafka.principal;

import java.util.concurrent.atomic.AtomicLong;

public final class PolicyEnforcement {
    private PolicyEnforcement() {}

    private static final AtomicLong CLOSES = new AtomicLong();

    /** Connections closed because the policy changed under them, since the JVM started. */
    public static long policyCloses() {
        return CLOSES.get();
    }

    static void recordClose() {
        CLOSES.incrementAndGet();
    }
}
