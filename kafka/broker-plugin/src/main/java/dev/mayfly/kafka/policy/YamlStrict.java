// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The one YAML language a policy is written in: the strict subset of
// identity/yaml_strict.h, which SnakeYAML (YAML 1.1, here) and yaml-cpp
// (YAML 1.2, `mayfly bridge check/map`) read the same way. Checked on the
// bytes and on the parser's events before any node is composed, with the
// C++ messages word for word; bridge/testdata/yaml_vectors/ holds both to
// them. SnakeYAML alone would also end a line at U+0085, U+2028 and U+2029,
// turning a comment's tail into live policy that the C++ bridge never sees.
package dev.mayfly.kafka.policy;

import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.events.AliasEvent;
import org.yaml.snakeyaml.events.CollectionStartEvent;
import org.yaml.snakeyaml.events.DocumentStartEvent;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.events.MappingStartEvent;
import org.yaml.snakeyaml.events.NodeEvent;
import org.yaml.snakeyaml.events.ScalarEvent;

import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

final class YamlStrict {
    /** The largest config in bytes; the number's reason is in yaml_strict.h. */
    static final int MAX_BYTES = 1 << 20;

    /** The deepest nesting of lists and maps, the top map being 1. */
    static final int MAX_DEPTH = 32;

    private static final Set<String> NULLS = Set.of("", "~", "null", "Null", "NULL");

    private YamlStrict() {}

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
    private static boolean printable(int c) {
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

    /** SnakeYAML's own limits, kept at or above ours so that ours speak first. */
    static LoaderOptions loaderOptions() {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setCodePointLimit(MAX_BYTES);
        options.setNestingDepthLimit(MAX_DEPTH + 1);
        options.setMaxAliasesForCollections(0);
        options.setAllowRecursiveKeys(false);
        return options;
    }

    /**
     * Follows the parser's events for tags, anchors, aliases, keys, depth, duplicate keys, scalar
     * values and a second document. A YAML syntax error anywhere is thrown as SnakeYAML's
     * exception, before any of these.
     */
    static void checkEvents(String text, String source) throws PolicyException {
        new EventChecker(text, source).run();
    }

    private static final class EventChecker {
        /** An open mapping or list. */
        private static final class Frame {
            final boolean isMap;
            boolean atKey = true;
            String key = "";
            final Map<String, Integer> keyLines = new HashMap<>();
            int index = 0;

            Frame(boolean isMap) {
                this.isMap = isMap;
            }
        }

        private final String original;
        private final int[] text; // code points: SnakeYAML's marks count them
        private final String source;
        private final List<Frame> stack = new ArrayList<>();
        private int documents = 0;

        EventChecker(String text, String source) {
            this.original = text;
            this.text = text.codePoints().toArray();
            this.source = source;
        }

        private PolicyException fail(int line, String message) {
            return new PolicyException(source + ":" + line + ": " + message);
        }

        private PolicyException fail(Mark mark, String message) {
            return fail(mark.getLine() + 1, message);
        }

        void run() throws PolicyException {
            // Every event, even after a problem: a syntax error anywhere is reported as such
            // (by the caller's compose), which is what yaml-cpp, reading as it goes, can
            // match. A problem stops the checks; the parse goes on.
            PolicyException first = null;
            for (Event event : new Yaml(loaderOptions()).parse(new StringReader(original))) {
                if (first == null) {
                    try {
                        on(event);
                    } catch (PolicyException e) {
                        first = e;
                    }
                }
            }
            if (first != null) {
                throw first;
            }
        }

        private void on(Event event) throws PolicyException {
            if (event instanceof DocumentStartEvent) {
                if (++documents > 1) {
                    throw fail(
                            event.getStartMark(),
                            "a second YAML document (after ---); a config is one document");
                }
            } else if (event instanceof AliasEvent) {
                throw fail(event.getStartMark(), "an alias (*) is not allowed in a config");
            } else if (event instanceof ScalarEvent scalar) {
                checkProperties(scalar, scalar.getTag());
                onScalar(scalar);
            } else if (event instanceof CollectionStartEvent start) {
                checkProperties(start, start.getTag());
                if (inKeyPosition()) {
                    throw fail(event.getStartMark(), "a key must be a string, not a list or map");
                }
                if (stack.size() >= MAX_DEPTH) {
                    throw fail(
                            event.getStartMark(),
                            "nested deeper than "
                                    + MAX_DEPTH
                                    + " levels, the most a config may nest");
                }
                stack.add(new Frame(event instanceof MappingStartEvent));
            } else if (event.is(Event.ID.MappingEnd) || event.is(Event.ID.SequenceEnd)) {
                stack.remove(stack.size() - 1);
                ended();
            }
        }

        private boolean inKeyPosition() {
            return !stack.isEmpty()
                    && stack.get(stack.size() - 1).isMap
                    && stack.get(stack.size() - 1).atKey;
        }

        private void checkProperties(NodeEvent event, String tag) throws PolicyException {
            Mark mark = event.getStartMark();
            if (event.getAnchor() != null) {
                throw fail(mark, "an anchor (&) is not allowed in a config");
            }
            if (tag != null) {
                throw fail(mark, "a tag (!) is not allowed in a config");
            }
            if (inKeyPosition()) {
                // Before the key's first token, past blanks: the explicit-key indicator, if
                // there is one, reported at its own line (yaml_strict.cc says why).
                int i = mark.getIndex();
                int line = mark.getLine() + 1;
                while (i > 0
                        && (text[i - 1] == ' ' || text[i - 1] == '\n' || text[i - 1] == '\r')) {
                    if (text[--i] == '\n') {
                        line--;
                    }
                }
                if (i > 0 && text[i - 1] == '?') {
                    throw fail(line, "an explicit key (?) is not allowed in a config");
                }
            }
        }

        private void onScalar(ScalarEvent scalar) throws PolicyException {
            Mark mark = scalar.getStartMark();
            boolean plain = scalar.getScalarStyle() == DumperOptions.ScalarStyle.PLAIN;
            String value = scalar.getValue();
            if (inKeyPosition() && plain && NULLS.contains(value)) {
                throw fail(mark, "a key must be a string, not empty or null (~)");
            }
            if (!stack.isEmpty() && plain && value.isEmpty()) {
                // An empty value, named at the line of the ':' or '-' before it (see
                // yaml_strict.cc: yaml-cpp marks it elsewhere).
                throw fail(
                        lineBefore(mark), path() + ": no value (write one, or leave the key out)");
            }
            for (int i = 0; i < value.length(); ) {
                int c = value.codePointAt(i);
                if ((!printable(c) || c > 0xFFFF) && c != '\n' && c != '\t') {
                    throw fail(
                            mark,
                            String.format(
                                    "character U+%04X not allowed in a value (printable characters"
                                            + " of the Basic Multilingual Plane, \\t and \\n only)",
                                    c));
                }
                i += Character.charCount(c);
            }
            if (inKeyPosition()) {
                Frame map = stack.get(stack.size() - 1);
                if (plain && value.equals("<<")) {
                    throw fail(mark, "a merge key (<<) is not allowed in a config");
                }
                map.key = value;
                Integer first = map.keyLines.putIfAbsent(value, mark.getLine() + 1);
                if (first != null) {
                    throw fail(mark, path() + ": key given twice (first at line " + first + ")");
                }
            }
            ended();
        }

        /** The line of the last text before `mark`, past blanks and comment-only lines. */
        private int lineBefore(Mark mark) {
            int i = Math.min(mark.getIndex(), text.length);
            int line = mark.getLine() + 1;
            while (i > 0) {
                int c = text[i - 1];
                if (c == ' ' || c == '\r') {
                    i--;
                } else if (c == '\n') {
                    i--;
                    line--;
                    int from = i;
                    while (from > 0 && text[from - 1] != '\n') {
                        from--;
                    }
                    int first = from;
                    while (first < i && text[first] == ' ') {
                        first++;
                    }
                    if (first < i && text[first] == '#') {
                        i = from;
                    }
                } else {
                    break;
                }
            }
            return line;
        }

        /** "a.b[2]": where the innermost open collection's current child is. */
        private String path() {
            StringBuilder path = new StringBuilder();
            for (Frame frame : stack) {
                if (!frame.isMap) {
                    path.append('[').append(frame.index).append(']');
                } else {
                    path.append(path.length() == 0 ? "" : ".").append(frame.key);
                }
            }
            return path.toString();
        }

        private void ended() {
            if (stack.isEmpty()) {
                return;
            }
            Frame parent = stack.get(stack.size() - 1);
            if (parent.isMap) {
                parent.atKey = !parent.atKey;
            } else {
                parent.index++;
            }
        }
    }
}
