// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The one YAML language a policy is written in: the strict subset of
// identity/yaml_strict.h, which SnakeYAML (YAML 1.1, here) and yaml-cpp
// (YAML 1.2, `mayfly bridge check/map`) read the same way. After YamlText
// has checked the text, this checks the parser's events before any node is
// composed, as identity/yaml_strict.cc does, with its messages word for
// word; bridge/testdata/yaml_vectors/ holds both to them.
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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

final class YamlStrict {
    /** The deepest nesting of lists and maps, the top map being 1 (see yaml_strict.h). */
    static final int MAX_DEPTH = 32;

    private static final Set<String> NULLS = Set.of("", "~", "null", "Null", "NULL");

    private YamlStrict() {}

    /** SnakeYAML's own limits, kept at or above ours so that ours speak first. */
    static LoaderOptions loaderOptions() {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setCodePointLimit(YamlText.MAX_BYTES);
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
            boolean flow = false;
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
                boolean plain = scalar.getScalarStyle() == DumperOptions.ScalarStyle.PLAIN;
                if (inKeyPosition()
                        && scalar.getAnchor() == null
                        && scalar.getTag() == null
                        && plain
                        && NULLS.contains(scalar.getValue())) {
                    // Before the explicit-key check, as in yaml_strict.cc.
                    Mark mark = scalar.getStartMark();
                    throw fail(
                            scalar.getValue().isEmpty() ? lineBefore(mark) : mark.getLine() + 1,
                            "a key must be a string, not empty or null (~)");
                }
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
                Frame frame = new Frame(event instanceof MappingStartEvent);
                frame.flow = start.getFlowStyle() == DumperOptions.FlowStyle.FLOW;
                stack.add(frame);
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
                if ((!YamlText.printable(c) || c > 0xFFFF) && c != '\n' && c != '\t') {
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
                if (map.flow && plain) {
                    // SnakeYAML reads "{a:[b]}" as a: [b]; yaml-cpp (and YAML 1.2) do not.
                    int i = Math.min(scalar.getEndMark().getIndex(), text.length);
                    while (i < text.length && text[i] == ' ') {
                        i++;
                    }
                    if (i + 1 < text.length
                            && text[i] == ':'
                            && " \r\n,]}".indexOf(text[i + 1]) < 0) {
                        throw fail(
                                mark,
                                "not valid YAML: a ':' after a key in a flow mapping needs a"
                                        + " space after it");
                    }
                }
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
