// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Quoting untrusted text in messages the way absl::CHexEscape does in the
// C++ code: printable ASCII as is, anything else escaped, so a log line
// never carries control characters from an ID or a policy file.
package dev.mayfly.kafka.spiffe;

import java.nio.charset.StandardCharsets;

public final class Escaping {
    private Escaping() {}

    public static String cHexEscape(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        return SpiffeRules.escape(bytes, bytes.length);
    }
}
