// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The shared YAML vectors (bridge/testdata/yaml_vectors/) against the
// plugin: each file loads as a policy, or fails with exactly the message of
// expectations.txt, as in the C++ bridge's yaml_vectors_test.cc. The files
// are read as bytes, the way the broker reads the policy.
package dev.mayfly.kafka.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mayfly.kafka.testing.RepoFiles;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

class YamlVectorsTest {
    /** As in yaml_vectors_test.cc: the count when both first passed. */
    private static final int MIN_CASES = 51;

    private static final Path DIR =
            RepoFiles.find("bridge/testdata/yaml_vectors/expectations.txt").getParent();

    private record Case(String name, String expected) {}

    private static List<Case> expectations() throws IOException {
        List<Case> out = new ArrayList<>();
        for (String line : Files.readAllLines(DIR.resolve("expectations.txt"))) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int arrow = line.indexOf(" => ");
            out.add(new Case(line.substring(0, arrow), line.substring(arrow + 4)));
        }
        return out;
    }

    /** generated_size_N.yaml: ok_plain.yaml padded with a comment to N bytes. */
    private static byte[] input(String name) throws IOException {
        if (name.startsWith("generated_size_") && name.endsWith(".yaml")) {
            int size =
                    Integer.parseInt(name.substring("generated_size_".length(), name.length() - 5));
            byte[] base = Files.readAllBytes(DIR.resolve("ok_plain.yaml"));
            byte[] out = Arrays.copyOf(base, size);
            Arrays.fill(out, base.length, size - 1, (byte) '#');
            out[size - 1] = '\n';
            return out;
        }
        return Files.readAllBytes(DIR.resolve(name));
    }

    @Test
    void everyFileLoadsOrFailsAsWritten() throws IOException {
        List<Case> cases = expectations();
        assertTrue(cases.size() >= MIN_CASES, "only " + cases.size() + " cases");
        List<String> wrong = new ArrayList<>();
        for (Case c : cases) {
            String got;
            try {
                Policy.parse(input(c.name()), c.name());
                got = "ok";
            } catch (PolicyException e) {
                got = e.getMessage();
            }
            if (!got.equals(c.expected())) {
                wrong.add(c.name() + "\n  want: " + c.expected() + "\n  got:  " + got);
            }
        }
        assertEquals("", String.join("\n", wrong));
    }

    @Test
    void generatedSizesStraddleTheLimit() throws IOException {
        List<String> names = expectations().stream().map(Case::name).toList();
        assertTrue(names.contains("generated_size_" + YamlText.MAX_BYTES + ".yaml"));
        assertTrue(names.contains("generated_size_" + (YamlText.MAX_BYTES + 1) + ".yaml"));
    }

    /**
     * What yaml-cpp alone would read (identity/yaml_reader_test.cc refuses it there too): SnakeYAML
     * refuses it as a syntax error.
     */
    @Test
    void laxYamlCppTextIsASyntaxErrorHere() {
        String head = "trust_domains: [prod.acme]\nprincipals: []\n";
        for (String tail :
                List.of("unmapped:\n[deny]\n", "unmapped: 'deny\n", "super_users: {a:[b]}\n")) {
            PolicyException e =
                    org.junit.jupiter.api.Assertions.assertThrows(
                            PolicyException.class, () -> Policy.parse(head + tail, "p.yaml"));
            assertTrue(e.getMessage().startsWith("p.yaml:"), e.getMessage());
            assertTrue(e.getMessage().contains(": not valid YAML: "), e.getMessage());
        }
    }

    /** A String given to Policy.parse goes through the same checks as the file's bytes. */
    @Test
    void parseOfAStringIsCheckedLikeTheBytes() throws IOException {
        String text = new String(input("u2028_comment.yaml"), StandardCharsets.UTF_8);
        PolicyException e =
                org.junit.jupiter.api.Assertions.assertThrows(
                        PolicyException.class, () -> Policy.parse(text, "p.yaml"));
        assertEquals(
                "p.yaml:5: character U+2028 not allowed (a config is printable UTF-8, lines end"
                        + " in \\n or \\r\\n, no tabs)",
                e.getMessage());
    }
}
