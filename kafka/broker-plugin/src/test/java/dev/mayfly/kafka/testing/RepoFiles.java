// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Finds files of the Mayfly repository from a test, whatever directory
// Maven runs it in: walks up from the module directory (surefire's
// "basedir", else the working directory) to the repository root.
package dev.mayfly.kafka.testing;

import java.nio.file.Files;
import java.nio.file.Path;

public final class RepoFiles {
    private RepoFiles() {}

    // kafka/broker-plugin is two levels below the root; a few more allow for
    // a run from target/ or a copy of the module elsewhere in the tree.
    private static final int MAX_LEVELS_UP = 6;

    /** The repository file at `relative` ("bridge/testdata/x.yaml"); fails if absent. */
    public static Path find(String relative) {
        String basedir = System.getProperty("basedir");
        Path dir = (basedir != null ? Path.of(basedir) : Path.of("")).toAbsolutePath();
        for (int i = 0; i <= MAX_LEVELS_UP && dir != null; i++, dir = dir.getParent()) {
            Path candidate = dir.resolve(relative);
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        throw new AssertionError(
                relative
                        + " not found in the module directory or up to "
                        + MAX_LEVELS_UP
                        + " levels above it (basedir="
                        + basedir
                        + ")");
    }
}
