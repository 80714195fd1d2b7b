// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Reading the policy's YAML with errors that point at the node,
// "SOURCE:LINE: FIELD: message", as identity/yaml_reader.cc does. The file
// is composed into SnakeYAML nodes (which keep their line) rather than
// loaded into Java maps, so a key given twice is seen and refused instead
// of silently keeping one value, and a second document is refused too.
// Scalars are taken as written: "true" and "42" are strings here, as in
// yaml-cpp. Holds only the source name; thread-compatible.
package dev.mayfly.kafka.policy;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;

final class YamlReader {
    // A policy is a few kilobytes; this bounds what a hostile file can cost.
    private static final int MAX_CODE_POINTS = 4 * 1024 * 1024;

    private final String source;

    YamlReader(String source) {
        this.source = source;
    }

    String source() {
        return source;
    }

    /** Parses one document; null for an empty one. */
    Node load(String text) throws PolicyException {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setCodePointLimit(MAX_CODE_POINTS);
        options.setAllowRecursiveKeys(false);
        Node root;
        try {
            root = new Yaml(options).compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            if (String.valueOf(e.getProblem()).contains("expected a single document")
                    || String.valueOf(e.getContext()).contains("expected a single document")) {
                throw new PolicyException(
                        line(mark)
                                + ": a second YAML document (after ---); a config is one document");
            }
            throw new PolicyException(line(mark) + ": not valid YAML: " + e.getProblem());
        } catch (YAMLException e) {
            throw new PolicyException(source + ": not valid YAML: " + e.getMessage());
        }
        if (root != null) {
            checkDuplicateKeys(root, "", Collections.newSetFromMap(new IdentityHashMap<>()));
        }
        return root;
    }

    // compose() keeps every key of a mapping, duplicates included (the
    // duplicate-key option acts only when constructing Java objects), so the
    // check is done here, with the C++ message. Aliased nodes are walked once.
    private void checkDuplicateKeys(Node node, String path, Set<Node> seen) throws PolicyException {
        if (!seen.add(node)) {
            return;
        }
        if (node instanceof MappingNode map) {
            Map<String, Integer> keys = new HashMap<>();
            for (NodeTuple tuple : map.getValue()) {
                Node keyNode = tuple.getKeyNode();
                String key = keyNode instanceof ScalarNode s ? s.getValue() : "?";
                String valuePath = path.isEmpty() ? key : path + "." + key;
                if (keyNode instanceof ScalarNode) {
                    Integer first = keys.putIfAbsent(key, lineNumber(keyNode));
                    if (first != null) {
                        throw new PolicyException(
                                at(keyNode)
                                        + ": "
                                        + valuePath
                                        + ": key given twice (first at line "
                                        + first
                                        + ")");
                    }
                }
                checkDuplicateKeys(tuple.getValueNode(), valuePath, seen);
            }
        } else if (node instanceof SequenceNode seq) {
            List<Node> items = seq.getValue();
            for (int i = 0; i < items.size(); i++) {
                checkDuplicateKeys(items.get(i), path + "[" + i + "]", seen);
            }
        }
    }

    private String line(Mark mark) {
        return mark == null ? source : source + ":" + (mark.getLine() + 1);
    }

    private static int lineNumber(Node node) {
        return node.getStartMark() == null ? 0 : node.getStartMark().getLine() + 1;
    }

    /** "SOURCE:LINE" of `node` (1-based line), or SOURCE for no node. */
    String at(Node node) {
        return node == null ? source : line(node.getStartMark());
    }

    PolicyException error(Node node, String field, String message) {
        return new PolicyException(at(node) + ": " + field + ": " + message);
    }

    static boolean isMap(Node node) {
        return node instanceof MappingNode;
    }

    static boolean isSequence(Node node) {
        return node instanceof SequenceNode;
    }

    static boolean isNull(Node node) {
        return node == null || (node instanceof ScalarNode s && s.getTag().equals(Tag.NULL));
    }

    /** The value of `key` in `map`, or null; `map` must be a MappingNode. */
    static Node get(Node map, String key) {
        if (!(map instanceof MappingNode m)) {
            return null;
        }
        for (NodeTuple tuple : m.getValue()) {
            if (tuple.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key)) {
                return tuple.getValueNode();
            }
        }
        return null;
    }

    /** A scalar, as written. yaml-cpp reads ~, null and an empty value as null. */
    String string(Node node, String field) throws PolicyException {
        if (!(node instanceof ScalarNode s) || s.getTag().equals(Tag.NULL)) {
            throw error(node, field, "want a string");
        }
        return s.getValue();
    }

    record Item(Node node, String value) {}

    /** A list of scalars, each with its node so later checks can point at it. */
    List<Item> strings(Node node, String field) throws PolicyException {
        if (!(node instanceof SequenceNode seq)) {
            throw error(node, field, "want a list");
        }
        List<Item> out = new ArrayList<>();
        List<Node> items = seq.getValue();
        for (int i = 0; i < items.size(); i++) {
            out.add(new Item(items.get(i), string(items.get(i), field + "[" + i + "]")));
        }
        return out;
    }

    /** `map` must be a mapping whose keys are all in `known` (a sorted set). */
    void checkKeys(Node map, String field, SortedSet<String> known) throws PolicyException {
        if (!(map instanceof MappingNode m)) {
            throw error(map, field, "want a map of keys");
        }
        for (NodeTuple tuple : m.getValue()) {
            Node keyNode = tuple.getKeyNode();
            String key = keyNode instanceof ScalarNode s ? s.getValue() : "";
            if (!known.contains(key)) {
                throw error(
                        keyNode,
                        field.isEmpty() ? key : field + "." + key,
                        "unknown key (known: " + String.join(", ", known) + ")");
            }
        }
    }
}
