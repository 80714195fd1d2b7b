// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The binary form of a principal forwarded between brokers and controllers
// (KafkaPrincipalSerde), so a forwarded request keeps its SPIFFE ID and
// NotAfter and the authorizer can still refuse it after expiry.
//
// Version 1, big-endian:
//   u8  version (1)
//   u8  flags: bit 0 SPIFFE fields follow, bit 1 tokenAuthenticated
//   str type, str name                 (str = u32 length + UTF-8 bytes)
//   [str spiffeId, i64 notAfter in epoch milliseconds]   if bit 0
// Anything else (another version, unknown flags, a short or long buffer) is
// a SerializationException. Stateless and thread-safe.
package dev.mayfly.kafka.principal;

import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.KafkaPrincipalSerde;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

public final class SpiffePrincipalSerde implements KafkaPrincipalSerde {
    static final byte VERSION = 1;
    private static final int FLAG_SPIFFE = 1;
    private static final int FLAG_TOKEN_AUTHENTICATED = 2;
    private static final int KNOWN_FLAGS = FLAG_SPIFFE | FLAG_TOKEN_AUTHENTICATED;
    // Far above any principal (a SPIFFE ID is at most 2048 bytes), far below
    // what a corrupt length could make us allocate.
    private static final int MAX_STRING_BYTES = 64 * 1024;

    @Override
    public byte[] serialize(KafkaPrincipal principal) throws SerializationException {
        byte[] type = utf8(principal.getPrincipalType());
        byte[] name = utf8(principal.getName());
        int flags = principal.tokenAuthenticated() ? FLAG_TOKEN_AUTHENTICATED : 0;
        byte[] spiffeId = new byte[0];
        long notAfter = 0;
        if (principal instanceof SpiffePrincipal sp) {
            flags |= FLAG_SPIFFE;
            spiffeId = utf8(sp.spiffeId());
            notAfter = sp.notAfter().toEpochMilli();
        }
        int size = 2 + 4 + type.length + 4 + name.length;
        if ((flags & FLAG_SPIFFE) != 0) {
            size += 4 + spiffeId.length + 8;
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        out.put(VERSION).put((byte) flags);
        out.putInt(type.length).put(type).putInt(name.length).put(name);
        if ((flags & FLAG_SPIFFE) != 0) {
            out.putInt(spiffeId.length).put(spiffeId).putLong(notAfter);
        }
        return out.array();
    }

    @Override
    public KafkaPrincipal deserialize(byte[] bytes) throws SerializationException {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        try {
            byte version = in.get();
            if (version != VERSION) {
                throw new SerializationException(
                        "unknown SPIFFE principal format version "
                                + version
                                + " (this plugin reads "
                                + VERSION
                                + ")");
            }
            int flags = in.get() & 0xff;
            if ((flags & ~KNOWN_FLAGS) != 0) {
                throw new SerializationException("unknown SPIFFE principal flags " + flags);
            }
            String type = string(in);
            String name = string(in);
            KafkaPrincipal principal;
            if ((flags & FLAG_SPIFFE) != 0) {
                String spiffeId = string(in);
                Instant notAfter = Instant.ofEpochMilli(in.getLong());
                principal = new SpiffePrincipal(type, name, spiffeId, notAfter);
            } else {
                principal = new KafkaPrincipal(type, name);
            }
            if (in.hasRemaining()) {
                throw new SerializationException(
                        "SPIFFE principal has " + in.remaining() + " unexpected trailing bytes");
            }
            principal.tokenAuthenticated((flags & FLAG_TOKEN_AUTHENTICATED) != 0);
            return principal;
        } catch (BufferUnderflowException e) {
            throw new SerializationException(
                    "SPIFFE principal is truncated (" + bytes.length + " bytes)");
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String string(ByteBuffer in) {
        int length = in.getInt();
        if (length < 0 || length > MAX_STRING_BYTES) {
            throw new SerializationException("SPIFFE principal has a bad string length " + length);
        }
        if (length > in.remaining()) {
            throw new BufferUnderflowException();
        }
        ByteBuffer slice = in.slice();
        slice.limit(length);
        in.position(in.position() + length);
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(slice)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new SerializationException("SPIFFE principal has a string that is not UTF-8");
        }
    }
}
