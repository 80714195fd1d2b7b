// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The binary form of a principal forwarded between brokers and controllers
// (KafkaPrincipalSerde), so a forwarded request keeps its SPIFFE ID and
// NotAfter and the authorizer can still refuse it after expiry.
//
// Version 2, written by this plugin, big-endian:
//   u8 version       the format version of the writer (2)
//   u8 min_reader    the oldest reader version that may read it (2)
//   u8 count         how many fields follow (a cut at a field boundary
//                    would otherwise read as a valid, shorter principal)
//   fields, tags strictly increasing, each: u8 tag, u16 length, value
//     1 type        UTF-8, required
//     2 name        UTF-8, required
//     3 flags       u8; bit 0 tokenAuthenticated; absent means 0
//     4 spiffe_id   UTF-8; with 5, makes a SpiffePrincipal
//     5 not_after   i64, epoch milliseconds
// How it evolves: a later writer adds fields with tags above 5 and bumps
// `version`. A reader skips fields it does not know (at most
// MAX_UNKNOWN_FIELDS, within MAX_ENCODED_BYTES), so a rolling upgrade can
// forward principals between old and new plugins. A writer whose new field
// must not be ignored raises `min_reader`, and older readers refuse it.
//
// Version 1 (the first plugin's) is still read: u8 1, u8 flags (bit 0 SPIFFE
// fields follow, bit 1 tokenAuthenticated), str type, str name, [str
// spiffeId, i64 notAfter] with str = u32 length + UTF-8. A v1 plugin cannot
// read version 2, so upgrade controllers before brokers (docs/kafka.md).
//
// What is decoded is checked as strictly as what the principal builder
// produces: type and name as the policy allows a principal (Policy's
// "Type:Name" rules), a valid SPIFFE ID (SpiffeId.fromString), a NotAfter
// an X.509 certificate can hold, bounded lengths, no trailing bytes. Any
// failure is a SerializationException naming the field. Stateless and
// thread-safe.
package dev.mayfly.kafka.principal;

import dev.mayfly.kafka.policy.Policy;
import dev.mayfly.kafka.spiffe.InvalidSpiffeIdException;
import dev.mayfly.kafka.spiffe.SpiffeId;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.KafkaPrincipalSerde;

import java.io.ByteArrayOutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

public final class SpiffePrincipalSerde implements KafkaPrincipalSerde {
    static final byte VERSION = 2;
    static final byte VERSION_1 = 1;

    static final int TAG_TYPE = 1;
    static final int TAG_NAME = 2;
    static final int TAG_FLAGS = 3;
    static final int TAG_SPIFFE_ID = 4;
    static final int TAG_NOT_AFTER = 5;

    private static final int FLAG_TOKEN_AUTHENTICATED = 1;
    private static final int V1_FLAG_SPIFFE = 1;
    private static final int V1_FLAG_TOKEN_AUTHENTICATED = 2;

    // A principal TYPE is a short word (User, Group).
    static final int MAX_TYPE_BYTES = 64;
    // A name is made from one SPIFFE ID's segments plus the template's
    // literals: twice the longest ID is ample.
    static final int MAX_NAME_BYTES = 2 * SpiffeId.MAX_LENGTH;
    // Room for the fields above and a few of a later version's.
    static final int MAX_ENCODED_BYTES = 16 * 1024;
    static final int MAX_UNKNOWN_FIELDS = 16;
    // RFC 5280 4.1.2.5: 99991231235959Z is the latest NotAfter a certificate
    // can state; the earliest a principal can plausibly carry is the epoch.
    static final long MAX_NOT_AFTER_MILLIS = Instant.parse("9999-12-31T23:59:59Z").toEpochMilli();

    // Writes only what deserialize accepts, lengths included, so a principal
    // that cannot be forwarded fails here, on the broker that has it.
    @Override
    public byte[] serialize(KafkaPrincipal principal) throws SerializationException {
        boolean spiffe = principal instanceof SpiffePrincipal;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(VERSION);
        out.write(VERSION); // min_reader: every field here is one a v2 reader knows
        out.write(2 + (principal.tokenAuthenticated() ? 1 : 0) + (spiffe ? 2 : 0));
        field(out, TAG_TYPE, bounded(principal.getPrincipalType(), "type", MAX_TYPE_BYTES));
        field(out, TAG_NAME, bounded(principal.getName(), "name", MAX_NAME_BYTES));
        if (principal.tokenAuthenticated()) {
            field(out, TAG_FLAGS, new byte[] {FLAG_TOKEN_AUTHENTICATED});
        }
        if (principal instanceof SpiffePrincipal sp) {
            field(out, TAG_SPIFFE_ID, bounded(sp.spiffeId(), "spiffe_id", SpiffeId.MAX_LENGTH));
            field(
                    out,
                    TAG_NOT_AFTER,
                    ByteBuffer.allocate(8).putLong(sp.notAfter().toEpochMilli()).array());
        }
        return out.toByteArray();
    }

    private static void field(ByteArrayOutputStream out, int tag, byte[] value) {
        out.write(tag);
        out.write(value.length >>> 8);
        out.write(value.length);
        out.writeBytes(value);
    }

    @Override
    public KafkaPrincipal deserialize(byte[] bytes) throws SerializationException {
        if (bytes.length > MAX_ENCODED_BYTES) {
            throw new SerializationException(
                    "SPIFFE principal is "
                            + bytes.length
                            + " bytes, over the "
                            + MAX_ENCODED_BYTES
                            + " allowed");
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        try {
            int version = in.get() & 0xff;
            Fields f;
            if (version == VERSION_1) {
                f = readVersion1(in);
            } else if (version >= VERSION) {
                f = readTlv(in, version);
            } else {
                throw new SerializationException(
                        "unknown SPIFFE principal format version " + version);
            }
            return f.principal();
        } catch (BufferUnderflowException e) {
            throw new SerializationException(
                    "SPIFFE principal is truncated (" + bytes.length + " bytes)");
        }
    }

    /** What an encoding holds, whichever version; checked by principal(). */
    private static final class Fields {
        String type;
        String name;
        boolean tokenAuthenticated;
        String spiffeId;
        Long notAfterMillis;

        KafkaPrincipal principal() {
            if (type == null || name == null) {
                throw new SerializationException(
                        "SPIFFE principal lacks its " + (type == null ? "type" : "name"));
            }
            // The rules a policy's principals follow (PrincipalTemplate):
            // TYPE letters, NAME non-empty, no control characters.
            String problem = Policy.principalProblem(type + ":" + name);
            if (problem != null || type.indexOf(':') >= 0) {
                throw new SerializationException(
                        "SPIFFE principal type/name: "
                                + (problem != null ? problem : "a TYPE has no ':'"));
            }
            KafkaPrincipal principal;
            if (spiffeId == null && notAfterMillis == null) {
                principal = new KafkaPrincipal(type, name);
            } else if (spiffeId == null || notAfterMillis == null) {
                throw new SerializationException(
                        "SPIFFE principal has a "
                                + (spiffeId == null
                                        ? "NotAfter without a SPIFFE ID"
                                        : "SPIFFE ID without a NotAfter"));
            } else {
                try {
                    SpiffeId.fromString(spiffeId);
                } catch (InvalidSpiffeIdException e) {
                    throw new SerializationException(
                            "SPIFFE principal spiffe_id: " + e.getMessage());
                }
                long millis = notAfterMillis;
                if (millis < 0 || millis > MAX_NOT_AFTER_MILLIS) {
                    throw new SerializationException(
                            "SPIFFE principal not_after: "
                                    + millis
                                    + " ms is not a certificate's NotAfter (want 1970-01-01 to"
                                    + " 9999-12-31)");
                }
                principal = new SpiffePrincipal(type, name, spiffeId, Instant.ofEpochMilli(millis));
            }
            principal.tokenAuthenticated(tokenAuthenticated);
            return principal;
        }
    }

    private static Fields readTlv(ByteBuffer in, int version) {
        int minReader = in.get() & 0xff;
        if (minReader > VERSION) {
            throw new SerializationException(
                    "SPIFFE principal format version "
                            + version
                            + " needs a reader of version "
                            + minReader
                            + "; this plugin reads up to "
                            + VERSION);
        }
        int count = in.get() & 0xff;
        Fields f = new Fields();
        int lastTag = 0;
        int unknown = 0;
        for (int i = 0; i < count; i++) {
            int tag = in.get() & 0xff;
            int length = in.getShort() & 0xffff;
            if (tag <= lastTag) {
                throw new SerializationException(
                        "SPIFFE principal field "
                                + tag
                                + " after field "
                                + lastTag
                                + ": fields come once each, in increasing order");
            }
            lastTag = tag;
            if (length > in.remaining()) {
                throw new BufferUnderflowException();
            }
            ByteBuffer value = in.slice().limit(length);
            in.position(in.position() + length);
            switch (tag) {
                case TAG_TYPE -> f.type = string(value, "type", MAX_TYPE_BYTES);
                case TAG_NAME -> f.name = string(value, "name", MAX_NAME_BYTES);
                case TAG_FLAGS -> {
                    int flags = exactly(value, 1, "flags").get() & 0xff;
                    if ((flags & ~FLAG_TOKEN_AUTHENTICATED) != 0) {
                        throw new SerializationException(
                                "SPIFFE principal has unknown flags " + flags);
                    }
                    f.tokenAuthenticated = flags != 0;
                }
                case TAG_SPIFFE_ID -> f.spiffeId = string(value, "spiffe_id", SpiffeId.MAX_LENGTH);
                case TAG_NOT_AFTER -> f.notAfterMillis = exactly(value, 8, "not_after").getLong();
                default -> {
                    // A later version's field: skipped (see the format above).
                    if (++unknown > MAX_UNKNOWN_FIELDS) {
                        throw new SerializationException(
                                "SPIFFE principal has over "
                                        + MAX_UNKNOWN_FIELDS
                                        + " fields this plugin does not know");
                    }
                }
            }
        }
        if (in.hasRemaining()) {
            throw new SerializationException(
                    "SPIFFE principal has "
                            + in.remaining()
                            + " bytes after its "
                            + count
                            + " fields");
        }
        return f;
    }

    private static Fields readVersion1(ByteBuffer in) {
        int flags = in.get() & 0xff;
        if ((flags & ~(V1_FLAG_SPIFFE | V1_FLAG_TOKEN_AUTHENTICATED)) != 0) {
            throw new SerializationException("unknown SPIFFE principal flags " + flags);
        }
        Fields f = new Fields();
        f.type = string(lengthPrefixed(in), "type", MAX_TYPE_BYTES);
        f.name = string(lengthPrefixed(in), "name", MAX_NAME_BYTES);
        if ((flags & V1_FLAG_SPIFFE) != 0) {
            f.spiffeId = string(lengthPrefixed(in), "spiffe_id", SpiffeId.MAX_LENGTH);
            f.notAfterMillis = in.getLong();
        }
        f.tokenAuthenticated = (flags & V1_FLAG_TOKEN_AUTHENTICATED) != 0;
        if (in.hasRemaining()) {
            throw new SerializationException(
                    "SPIFFE principal has " + in.remaining() + " unexpected trailing bytes");
        }
        return f;
    }

    // A version 1 string: u32 length, then the bytes.
    private static ByteBuffer lengthPrefixed(ByteBuffer in) {
        int length = in.getInt();
        if (length < 0 || length > in.remaining()) {
            throw new BufferUnderflowException();
        }
        ByteBuffer value = in.slice().limit(length);
        in.position(in.position() + length);
        return value;
    }

    private static ByteBuffer exactly(ByteBuffer value, int length, String field) {
        if (value.remaining() != length) {
            throw new SerializationException(
                    "SPIFFE principal "
                            + field
                            + " is "
                            + value.remaining()
                            + " bytes, not "
                            + length);
        }
        return value;
    }

    private static byte[] bounded(String s, String field, int maxBytes) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > maxBytes) {
            throw new SerializationException(
                    "cannot serialize a principal whose "
                            + field
                            + " is "
                            + bytes.length
                            + " bytes, over the "
                            + maxBytes
                            + " allowed");
        }
        return bytes;
    }

    private static String string(ByteBuffer value, String field, int maxBytes) {
        if (value.remaining() > maxBytes) {
            throw new SerializationException(
                    "SPIFFE principal "
                            + field
                            + " is "
                            + value.remaining()
                            + " bytes, over the "
                            + maxBytes
                            + " allowed");
        }
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(value)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new SerializationException("SPIFFE principal " + field + " is not UTF-8");
        }
    }
}
