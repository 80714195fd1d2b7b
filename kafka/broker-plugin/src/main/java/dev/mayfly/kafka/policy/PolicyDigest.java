// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The policy's fingerprint: SHA-256 over the exact bytes of the file,
// lower-case hex, shown as "policy sha256:HEX". `mayfly bridge check`
// (bridge/cli_commands.cc) prints the same line, so an operator compares
// what a broker logs with the file they meant to deploy, or with
// `sha256sum`. Over the bytes rather than the parsed policy on purpose: two
// files that differ only in comments get different digests, which is what
// "is this the file I reviewed" needs. Stateless and thread-safe.
package dev.mayfly.kafka.policy;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

public final class PolicyDigest {
    /** What precedes the hex, in logs and in `mayfly bridge check`. */
    public static final String LABEL = "policy sha256:";

    private PolicyDigest() {}

    /** SHA-256 of `bytes`, 64 lower-case hex digits. */
    public static String sha256Hex(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            // Every Java platform must provide SHA-256 (MessageDigest's contract).
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
    }

    /** "policy sha256:HEX" for a digest from sha256Hex. */
    public static String line(String sha256Hex) {
        return LABEL + sha256Hex;
    }
}
