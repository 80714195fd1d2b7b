// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Reading the policy's YAML with errors that point at the node,
// "SOURCE:LINE: FIELD: message", as identity/yaml_reader.cc does. The file
// must be in the strict subset both parsers read alike (YamlStrict: one
// document, no key given twice, no tags, anchors or odd line breaks), and
// is then composed into SnakeYAML nodes (which keep their line) rather than
// loaded into Java maps. Scalars are taken as written: "true", "on", "0777"
// and "1:20" are strings here, as in yaml-cpp. Holds only the source name;
// thread-compatible.
package dev.mayfly.kafka.policy;

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
import java.util.List;
import java.util.SortedSet;

final class YamlReader {
    private final String source;

    YamlReader(String source) {
        this.source = source;
    }

    String source() {
        return source;
    }

    /**
     * Parses one document of the strict subset (YamlStrict); null for an empty one. Errors are
     * those of identity/yaml_reader.cc, word for word.
     */
    Node load(byte[] bytes) throws PolicyException {
        String text = YamlText.decode(bytes, source);
        try {
            YamlStrict.checkEvents(text, source);
            return new Yaml(YamlStrict.loaderOptions()).compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            throw new PolicyException(line(mark) + ": not valid YAML: " + e.getProblem());
        } catch (YAMLException e) {
            throw new PolicyException(source + ": not valid YAML: " + e.getMessage());
        }
    }

    private String line(Mark mark) {
        return mark == null ? source : source + ":" + (mark.getLine() + 1);
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
