// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The text of a policy in the strict YAML subset (YamlStrict), checked before
// SnakeYAML sees it, as identity/yaml_text.cc does in C++, word for word:
// size, UTF-8, characters, directives and document markers. SnakeYAML alone
// would also end a line at U+0085, U+2028 and U+2029, turning a comment's
// tail into live policy that the C++ bridge never sees.
package dev.mayfly.kafka.policy;

import java.nio.charset.StandardCharsets;

final class YamlText {
    /** The largest config in bytes; the number's reason is in yaml_text.h. */
    static final int MAX_BYTES = 1 << 20;

    private YamlText() {}

    /**
     * Checks the text itself (size, UTF-8, characters, directives and document markers) and returns
     * it decoded.
     */
    static String decode(byte[] text, String source) throws PolicyException {
        if (text.length > MAX_BYTES) {
            throw new PolicyException(
                    source + ": larger than " + MAX_BYTES + " bytes, the most a config may be");
        }
        boolean[] content = {false};
        int[] endMarker = {0};
        int number = 1;
        for (int start = 0; start < text.length; number++) {
            int end = start;
            while (end < text.length && text[end] != '\n') {
                end++;
            }
            checkLine(source, number, text, start, end, content, endMarker);
            for (int i = start; i < end; ) {
                long decoded = decodeUtf8(text, i, end);
                if (decoded < 0) {
                    throw new PolicyException(
                            String.format(
                                    "%s:%d: not valid UTF-8 (byte 0x%02X)",
                                    source, number, text[i] & 0xFF));
                }
                int c = (int) (decoded & 0xFFFFFFFFL);
                boolean crlf = c == '\r' && i + 1 == end && end < text.length;
                if (!printable(c) && !crlf) {
                    throw new PolicyException(characterError(source, number, c));
                }
                i += (int) (decoded >>> 32);
            }
            start = end + 1;
        }
        return new String(text, StandardCharsets.UTF_8);
    }

    /** The code point at `i` in the low half, its length in the high; -1 if malformed. */
    private static long decodeUtf8(byte[] s, int i, int end) {
        int b0 = s[i] & 0xFF;
        if (b0 < 0x80) {
            return (1L << 32) | b0;
        }
        int length;
        int low = 0x80;
        int high = 0xBF;
        int cp;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            length = 2;
            cp = b0 & 0x1F;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            length = 3;
            cp = b0 & 0x0F;
            low = b0 == 0xE0 ? 0xA0 : low;
            high = b0 == 0xED ? 0x9F : high;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            length = 4;
            cp = b0 & 0x07;
            low = b0 == 0xF0 ? 0x90 : low;
            high = b0 == 0xF4 ? 0x8F : high;
        } else {
            return -1;
        }
        for (int k = 1; k < length; k++) {
            int b = i + k < end ? s[i + k] & 0xFF : -1;
            if (b < (k == 1 ? low : 0x80) || b > (k == 1 ? high : 0xBF)) {
                return -1;
            }
            cp = (cp << 6) | (b & 0x3F);
        }
        return ((long) length << 32) | cp;
    }

    /** Printable in YAML 1.1 and 1.2 alike, and a line break in neither. */
    static boolean printable(int c) {
        if (c >= 0x20 && c <= 0x7E) {
            return true;
        }
        if (c < 0xA0 || c == 0x2028 || c == 0x2029 || c == 0xFEFF) {
            return false;
        }
        if (c >= 0xD800 && c <= 0xDFFF) {
            return false;
        }
        return c != 0xFFFE && c != 0xFFFF && c <= 0x10FFFF;
    }

    private static String characterError(String source, int line, int c) {
        return String.format(
                "%s:%d: character U+%04X not allowed (a config is printable UTF-8, lines end in"
                        + " \\n or \\r\\n, no tabs)",
                source, line, c);
    }

    private static boolean isMarker(byte[] s, int start, int end, String marker) {
        if (end - start < 3) {
            return false;
        }
        for (int k = 0; k < 3; k++) {
            if (s[start + k] != marker.charAt(k)) {
                return false;
            }
        }
        return end - start == 3 || s[start + 3] == ' ' || s[start + 3] == '\r';
    }

    private static boolean blankOrComment(byte[] s, int start, int end) {
        int i = start;
        while (i < end && s[i] == ' ') {
            i++;
        }
        return i == end || s[i] == '#' || s[i] == '\r';
    }

    private static void checkLine(
            String source,
            int number,
            byte[] s,
            int start,
            int end,
            boolean[] content,
            int[] endMarker)
            throws PolicyException {
        String at = source + ":" + number;
        if (start < end && s[start] == '%') {
            throw new PolicyException(
                    at + ": a directive (%) is not allowed; a config is plain YAML");
        }
        if (isMarker(s, start, end, "---")) {
            if (content[0] || endMarker[0] != 0) {
                throw new PolicyException(
                        at + ": a second YAML document (after ---); a config is one document");
            }
            content[0] = true;
            return;
        }
        if (isMarker(s, start, end, "...")) {
            endMarker[0] = number;
            return;
        }
        if (blankOrComment(s, start, end)) {
            return;
        }
        if (endMarker[0] != 0) {
            throw new PolicyException(
                    at + ": text after the end of the document (...); a config is one document");
        }
        content[0] = true;
    }
}
