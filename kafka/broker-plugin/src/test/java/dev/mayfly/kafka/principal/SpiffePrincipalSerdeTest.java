// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The forwarded-principal format: round trips keep every field; the exact
// bytes of version 2; version 1 is still read; a later version's fields are
// skipped unless it says this reader is too old; and each thing the
// principal builder would never produce is refused, one case per rule.
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

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;

class SpiffePrincipalSerdeTest {
    private final SpiffePrincipalSerde serde = new SpiffePrincipalSerde();
    private static final Instant NOT_AFTER = Instant.parse("2026-11-25T18:00:00.123Z");
    private static final String ID = "spiffe://prod.acme/ns/orders/sa/writer";

    /** An encoding written by hand: version, min_reader, field count, then fields as given. */
    private static final class Enc {
        private final int version;
        private final int minReader;
        private final ByteArrayOutputStream fields = new ByteArrayOutputStream();
        private int count = 0;

        Enc(int version, int minReader) {
            this.version = version;
            this.minReader = minReader;
        }

        Enc field(int tag, byte[] value) {
            fields.write(tag);
            fields.write(value.length >>> 8);
            fields.write(value.length);
            fields.writeBytes(value);
            count++;
            return this;
        }

        Enc field(int tag, String value) {
            return field(tag, value.getBytes(StandardCharsets.UTF_8));
        }

        Enc notAfter(long millis) {
            return field(5, ByteBuffer.allocate(8).putLong(millis).array());
        }

        byte[] bytes() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(version);
            out.write(minReader);
            out.write(count);
            out.writeBytes(fields.toByteArray());
            return out.toByteArray();
        }
    }

    private static Enc v2(String type, String name) {
        return new Enc(2, 2).field(1, type).field(2, name);
    }

    private String refusal(byte[] bytes) {
        return assertThrows(SerializationException.class, () -> serde.deserialize(bytes))
                .getMessage();
    }

    @Test
    void spiffePrincipalRoundTrips() {
        SpiffePrincipal in = new SpiffePrincipal("User", "orders.writer", ID, NOT_AFTER);
        KafkaPrincipal out = serde.deserialize(serde.serialize(in));
        SpiffePrincipal sp = assertInstanceOf(SpiffePrincipal.class, out);
        assertEquals("User", sp.getPrincipalType());
        assertEquals("orders.writer", sp.getName());
        assertEquals(ID, sp.spiffeId());
        assertEquals(NOT_AFTER, sp.notAfter());
        assertFalse(sp.tokenAuthenticated());
        assertEquals(in, out);
    }

    @Test
    void exactBytesOfVersion2() {
        SpiffePrincipal in = new SpiffePrincipal("G", "n", "spiffe://t", Instant.ofEpochMilli(258));
        byte[] want = {
            2,
            2,
            4, // version, min_reader, field count
            1,
            0,
            1,
            'G', // type
            2,
            0,
            1,
            'n', // name
            4,
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
            't', // spiffe_id
            5,
            0,
            8,
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            2 // not_after, 258 ms
        };
        assertArrayEquals(want, serde.serialize(in));
    }

    @Test
    void plainPrincipalAndTokenFlagRoundTrip() {
        KafkaPrincipal in = new KafkaPrincipal("User", "ANONYMOUS", true);
        byte[] bytes = serde.serialize(in);
        assertArrayEquals(
                new Enc(2, 2)
                        .field(1, "User")
                        .field(2, "ANONYMOUS")
                        .field(3, new byte[] {1})
                        .bytes(),
                bytes);
        KafkaPrincipal out = serde.deserialize(bytes);
        assertEquals(KafkaPrincipal.class, out.getClass());
        assertEquals(in, out);
        assertTrue(out.tokenAuthenticated());
    }

    @Test
    void version1IsStillRead() {
        byte[] v1 = {
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
        SpiffePrincipal sp = assertInstanceOf(SpiffePrincipal.class, serde.deserialize(v1));
        assertEquals("G:n", sp.toString());
        assertEquals("spiffe://t", sp.spiffeId());
        assertEquals(Instant.ofEpochMilli(258), sp.notAfter());
        byte[] longer = Arrays.copyOf(v1, v1.length + 1);
        assertEquals("SPIFFE principal has 1 unexpected trailing bytes", refusal(longer));
        byte[] flags = v1.clone();
        flags[1] = 4;
        assertEquals("unknown SPIFFE principal flags 4", refusal(flags));
        // Validated as strictly as version 2.
        byte[] badId = v1.clone();
        badId[25] = 'T'; // spiffe://T: an upper-case trust domain
        assertTrue(refusal(badId).startsWith("SPIFFE principal spiffe_id: "), refusal(badId));
    }

    @Test
    void aLaterVersionsFieldsAreSkipped() {
        byte[] v3 =
                new Enc(3, 2)
                        .field(1, "User")
                        .field(2, "orders.writer")
                        .field(4, ID)
                        .notAfter(NOT_AFTER.toEpochMilli())
                        .field(6, "a field of version 3")
                        .field(200, new byte[300])
                        .bytes();
        SpiffePrincipal sp = assertInstanceOf(SpiffePrincipal.class, serde.deserialize(v3));
        assertEquals("User:orders.writer", sp.toString());
        assertEquals(ID, sp.spiffeId());
        assertEquals(NOT_AFTER, sp.notAfter());

        // Unless the writer says this reader is too old for it.
        assertEquals(
                "SPIFFE principal format version 3 needs a reader of version 3; this plugin"
                        + " reads up to 2",
                refusal(new Enc(3, 3).field(1, "User").field(2, "a").bytes()));
        // Bounded: how many, and how big in all.
        Enc many = v2("User", "a");
        for (int tag = 6; tag < 6 + SpiffePrincipalSerde.MAX_UNKNOWN_FIELDS + 1; tag++) {
            many.field(tag, "x");
        }
        assertEquals(
                "SPIFFE principal has over 16 fields this plugin does not know",
                refusal(many.bytes()));
        assertEquals(
                "SPIFFE principal is 16401 bytes, over the 16384 allowed",
                refusal(v2("User", "a").field(6, new byte[16384]).bytes()));
    }

    @Test
    void typeAndNameFollowThePolicysRules() {
        assertEquals(
                "SPIFFE principal type/name: \":a\" is not a principal: want TYPE:NAME, like"
                        + " User:orders",
                refusal(v2("", "a").bytes()));
        assertEquals(
                "SPIFFE principal type/name: \"User:\" is not a principal: want TYPE:NAME, like"
                        + " User:orders",
                refusal(v2("User", "").bytes()));
        assertEquals(
                "SPIFFE principal type/name: \"Us3r:a\": a principal's TYPE is letters, like User",
                refusal(v2("Us3r", "a").bytes()));
        assertEquals(
                "SPIFFE principal type/name: a TYPE has no ':'", refusal(v2("Us:er", "a").bytes()));
        assertEquals(
                "SPIFFE principal type/name: \"User:a\\nb\": control characters are not allowed",
                refusal(v2("User", "a\nb").bytes()));
        assertEquals(
                "SPIFFE principal lacks its name", refusal(new Enc(2, 2).field(1, "User").bytes()));
        assertEquals(
                "SPIFFE principal lacks its type", refusal(new Enc(2, 2).field(2, "a").bytes()));
        assertEquals(
                "SPIFFE principal type is 65 bytes, over the 64 allowed",
                refusal(v2("U".repeat(65), "a").bytes()));
        assertEquals(
                "SPIFFE principal name is 4097 bytes, over the 4096 allowed",
                refusal(v2("User", "a".repeat(4097)).bytes()));
        assertEquals("SPIFFE principal name is not UTF-8", refusal(notUtf8Name()));
    }

    private static byte[] notUtf8Name() {
        return new Enc(2, 2).field(1, "User").field(2, new byte[] {(byte) 0xc3}).bytes();
    }

    @Test
    void theSpiffeFieldsAreAValidIdAndAPlausibleNotAfter() {
        assertEquals(
                "SPIFFE principal spiffe_id: scheme is missing or invalid (a SPIFFE ID starts"
                        + " with lowercase \"spiffe://\"): \"http://prod.acme/a\"",
                refusal(v2("User", "a").field(4, "http://prod.acme/a").notAfter(1).bytes()));
        assertTrue(
                refusal(v2("User", "a").field(4, "spiffe://prod.acme/a/../b").notAfter(1).bytes())
                        .startsWith("SPIFFE principal spiffe_id: "));
        assertEquals(
                "SPIFFE principal spiffe_id is 2049 bytes, over the 2048 allowed",
                refusal(
                        v2("User", "a")
                                .field(4, "spiffe://t/" + "a".repeat(2038))
                                .notAfter(1)
                                .bytes()));
        assertEquals(
                "SPIFFE principal not_after: 9223372036854775807 ms is not a certificate's"
                        + " NotAfter (want 1970-01-01 to 9999-12-31)",
                refusal(v2("User", "a").field(4, ID).notAfter(Long.MAX_VALUE).bytes()));
        assertTrue(
                refusal(v2("User", "a").field(4, ID).notAfter(-1).bytes())
                        .startsWith("SPIFFE principal not_after: -1 ms"));
        // The latest a certificate can state is read.
        Instant latest = Instant.parse("9999-12-31T23:59:59Z");
        assertEquals(
                latest,
                ((SpiffePrincipal)
                                serde.deserialize(
                                        v2("User", "a")
                                                .field(4, ID)
                                                .notAfter(latest.toEpochMilli())
                                                .bytes()))
                        .notAfter());
        assertEquals(
                "SPIFFE principal has a SPIFFE ID without a NotAfter",
                refusal(v2("User", "a").field(4, ID).bytes()));
        assertEquals(
                "SPIFFE principal has a NotAfter without a SPIFFE ID",
                refusal(v2("User", "a").notAfter(1).bytes()));
        assertEquals(
                "SPIFFE principal not_after is 4 bytes, not 8",
                refusal(v2("User", "a").field(4, ID).field(5, new byte[4]).bytes()));
    }

    @Test
    void malformedEncodingsAreRefused() {
        byte[] good = serde.serialize(new SpiffePrincipal("User", "a", "spiffe://t/a", NOT_AFTER));
        assertThrows(SerializationException.class, () -> serde.deserialize(new byte[0]));
        for (int n = 1; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            assertThrows(SerializationException.class, () -> serde.deserialize(cut), "length " + n);
        }
        assertEquals(
                "SPIFFE principal has 1 bytes after its 4 fields",
                refusal(Arrays.copyOf(good, good.length + 1)));
        // A count that promises more fields than there are.
        byte[] more = good.clone();
        more[2] = 5;
        assertEquals("SPIFFE principal is truncated (" + good.length + " bytes)", refusal(more));
        assertEquals("unknown SPIFFE principal format version 0", refusal(new byte[] {0, 2, 0}));
        assertEquals(
                "SPIFFE principal field 1 after field 2: fields come once each, in increasing"
                        + " order",
                refusal(new Enc(2, 2).field(2, "a").field(1, "User").bytes()));
        assertEquals(
                "SPIFFE principal field 2 after field 2: fields come once each, in increasing"
                        + " order",
                refusal(v2("User", "a").field(2, "b").bytes()));
        assertEquals(
                "SPIFFE principal has unknown flags 2",
                refusal(v2("User", "a").field(3, new byte[] {2}).bytes()));
    }

    @Test
    void whatCannotBeReadIsNotWritten() {
        SerializationException e =
                assertThrows(
                        SerializationException.class,
                        () -> serde.serialize(new KafkaPrincipal("User", "a".repeat(5000))));
        assertEquals(
                "cannot serialize a principal whose name is 5000 bytes, over the 4096 allowed",
                e.getMessage());
    }
}
