// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The forwarded-principal format: round trips keep every field, and any
// other version, unknown flags, or a short or long buffer is refused.
package dev.mayfly.kafka.principal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.Arrays;

class SpiffePrincipalSerdeTest {
    private final SpiffePrincipalSerde serde = new SpiffePrincipalSerde();
    private static final Instant NOT_AFTER = Instant.parse("2026-11-25T18:00:00.123Z");

    @Test
    void spiffePrincipalRoundTrips() {
        SpiffePrincipal in =
                new SpiffePrincipal(
                        "User",
                        "orders.writer",
                        "spiffe://prod.acme/ns/orders/sa/writer",
                        NOT_AFTER);
        KafkaPrincipal out = serde.deserialize(serde.serialize(in));
        SpiffePrincipal sp = assertInstanceOf(SpiffePrincipal.class, out);
        assertEquals("User", sp.getPrincipalType());
        assertEquals("orders.writer", sp.getName());
        assertEquals("spiffe://prod.acme/ns/orders/sa/writer", sp.spiffeId());
        assertEquals(NOT_AFTER, sp.notAfter());
        assertFalse(sp.tokenAuthenticated());
        assertEquals(in, out);
    }

    @Test
    void exactBytesOfVersion1() {
        SpiffePrincipal in = new SpiffePrincipal("G", "n", "spiffe://t", Instant.ofEpochMilli(258));
        byte[] want = {
            1,
            1, // version, flags: SPIFFE fields
            0,
            0,
            0,
            1,
            'G',
            0,
            0,
            0,
            1,
            'n',
            0,
            0,
            0,
            10,
            's',
            'p',
            'i',
            'f',
            'f',
            'e',
            ':',
            '/',
            '/',
            't',
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            2 // 258 ms
        };
        assertArrayEquals(want, serde.serialize(in));
    }

    @Test
    void plainPrincipalAndTokenFlagRoundTrip() {
        KafkaPrincipal in = new KafkaPrincipal("User", "ANONYMOUS", true);
        KafkaPrincipal out = serde.deserialize(serde.serialize(in));
        assertEquals(KafkaPrincipal.class, out.getClass());
        assertEquals(in, out);
        assertTrue(out.tokenAuthenticated());
    }

    @Test
    void unknownVersionIsRefused() {
        byte[] bytes = serde.serialize(new KafkaPrincipal("User", "a"));
        bytes[0] = 2;
        SerializationException e =
                assertThrows(SerializationException.class, () -> serde.deserialize(bytes));
        assertEquals(
                "unknown SPIFFE principal format version 2 (this plugin reads 1)", e.getMessage());
    }

    @Test
    void malformedBuffersAreRefused() {
        byte[] good = serde.serialize(new SpiffePrincipal("User", "a", "spiffe://t/a", NOT_AFTER));
        assertThrows(SerializationException.class, () -> serde.deserialize(new byte[0]));
        for (int n = 1; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            assertThrows(SerializationException.class, () -> serde.deserialize(cut), "length " + n);
        }
        byte[] longer = Arrays.copyOf(good, good.length + 1);
        assertEquals(
                "SPIFFE principal has 1 unexpected trailing bytes",
                assertThrows(SerializationException.class, () -> serde.deserialize(longer))
                        .getMessage());
        byte[] flags = good.clone();
        flags[1] = 4;
        assertEquals(
                "unknown SPIFFE principal flags 4",
                assertThrows(SerializationException.class, () -> serde.deserialize(flags))
                        .getMessage());
    }
}
