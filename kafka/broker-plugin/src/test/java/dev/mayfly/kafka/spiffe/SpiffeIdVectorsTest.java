// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The shared SPIFFE ID vectors (identity/testdata/spiffe_id_vectors.yaml)
// against the Java parser: each ID gives exactly its parts or its message,
// each pattern matches exactly what the file says or fails with its message,
// as for the C++ parser (identity/spiffe_id_vectors_test.cc). Every
// mismatch is collected and reported together.
package dev.mayfly.kafka.spiffe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mayfly.kafka.testing.RepoFiles;

import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

class SpiffeIdVectorsTest {
    // The file should keep at least this many cases of each kind; it has more.
    private static final int MIN_ID_CASES = 50;
    private static final int MIN_PATTERN_CASES = 20;

    private static Map<String, List<Map<String, Object>>> vectors() throws IOException {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        String text =
                Files.readString(
                        RepoFiles.find("identity/testdata/spiffe_id_vectors.yaml"),
                        StandardCharsets.UTF_8);
        return new Yaml(options).load(text);
    }

    @Test
    void everyIdParsesOrFailsAsWritten() throws Exception {
        List<Map<String, Object>> ids = vectors().get("ids");
        List<String> mismatches = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < ids.size(); i++) {
            Map<String, Object> c = ids.get(i);
            String id = (String) c.get("id");
            String where = "ids[" + i + "] " + id;
            if (!seen.add(id)) {
                mismatches.add(where + ": given twice");
            }
            String got;
            try {
                SpiffeId parsed = SpiffeId.fromString(id);
                got =
                        "trust_domain="
                                + parsed.trustDomain().name()
                                + " path="
                                + parsed.path()
                                + (parsed.toString().equals(id) ? "" : " as " + parsed);
            } catch (InvalidSpiffeIdException e) {
                got = "error=" + e.getMessage();
            }
            String want =
                    c.containsKey("error")
                            ? "error=" + c.get("error")
                            : "trust_domain=" + c.get("trust_domain") + " path=" + c.get("path");
            if (!got.equals(want)) {
                mismatches.add(where + ":\n  want " + want + "\n  got  " + got);
            }
        }
        assertTrue(
                mismatches.isEmpty(),
                mismatches.size() + " mismatches:\n" + String.join("\n", mismatches));
        assertTrue(seen.size() >= MIN_ID_CASES, "only " + seen.size() + " cases");
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyPatternMatchesOrFailsAsWritten() throws Exception {
        List<Map<String, Object>> patterns = vectors().get("patterns");
        List<String> mismatches = new ArrayList<>();
        for (int i = 0; i < patterns.size(); i++) {
            Map<String, Object> c = patterns.get(i);
            String where = "patterns[" + i + "] " + c.get("pattern");
            SpiffeIdPattern pattern;
            try {
                pattern = SpiffeIdPattern.fromString((String) c.get("pattern"));
            } catch (InvalidSpiffeIdException e) {
                if (!e.getMessage().equals(c.get("error"))) {
                    mismatches.add(
                            where
                                    + ":\n  want error="
                                    + c.get("error")
                                    + "\n  got  error="
                                    + e.getMessage());
                }
                continue;
            }
            if (c.containsKey("error")) {
                mismatches.add(where + ": parsed, want error=" + c.get("error"));
                continue;
            }
            for (String list : List.of("match", "no_match")) {
                for (String id : (List<String>) c.get(list)) {
                    boolean matches = pattern.matches(SpiffeId.fromString(id));
                    if (matches != list.equals("match")) {
                        mismatches.add(where + ": " + id + ": want " + list);
                    }
                }
            }
        }
        assertTrue(
                mismatches.isEmpty(),
                mismatches.size() + " mismatches:\n" + String.join("\n", mismatches));
        assertTrue(patterns.size() >= MIN_PATTERN_CASES, "only " + patterns.size() + " cases");
    }
}
