// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// What expiry enforcement has done in this JVM: the number of connections
// closed because their client SVID expired, by the server engines of
// SvidSslEngineFactory or (a backstop) the principal builder. Static because
// the broker creates those per listener, and the authorizer, which Kafka
// gives a metrics registry (Monitorable, KIP-877), publishes the count as
// the gauge "expired-svid-connection-closes"; tests read it here.
// Thread-safe.
package dev.mayfly.kafka.principal;

import java.util.concurrent.atomic.AtomicLong;

public final class ExpiryEnforcement {
    private ExpiryEnforcement() {}

    private static final AtomicLong CLOSES = new AtomicLong();

    /** Connections closed because their SVID had expired, since the JVM started. */
    public static long enforcedCloses() {
        return CLOSES.get();
    }

    public static void recordClose() {
        CLOSES.incrementAndGet();
    }
}
