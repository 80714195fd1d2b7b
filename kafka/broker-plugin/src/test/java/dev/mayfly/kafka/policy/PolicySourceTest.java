// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The reloading policy: a change is loaded once the file has settled, under
// a fake clock (no sleeps); a bad file keeps the last good policy and is
// counted once; a rewrite that keeps size and mtime is caught by the full
// read; one source per file in the JVM; the digest of the shared policy file.
package dev.mayfly.kafka.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.mayfly.kafka.testing.FakeClock;
import dev.mayfly.kafka.testing.RepoFiles;

import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

class PolicySourceTest {
    // `sha256sum bridge/testdata/mapping_policy.yaml`; bridge/cli_test.sh
    // checks that `mayfly bridge check` prints the same.
    private static final String MAPPING_POLICY_SHA256 =
            "b3c65d0d38d039536ef4fe15e9d946fdd1fa3b981df42ab102215584ebc1f3a8";

    private static final Duration CHECK = PolicySource.CHECK_INTERVAL;

    @TempDir Path tmp;
    private final FakeClock clock = new FakeClock(Instant.parse("2026-11-25T18:00:00Z"));

    private static String policy(String principal, String superUser) {
        return "trust_domains: [prod.acme]\n"
                + "principals:\n"
                + "  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}\n"
                + "    principal: "
                + principal
                + "\n"
                + "super_users: ["
                + superUser
                + "]\n";
    }

    private Path write(String text) throws Exception {
        Path file = tmp.resolve("policy.yaml");
        Files.writeString(file, text);
        return file;
    }

    private static String principalOf(PolicySource source) {
        return source.current().map("spiffe://prod.acme/ns/orders/sa/writer").principal().get();
    }

    @Test
    void aChangeIsLoadedOnceTheFileHasSettled() throws Exception {
        Path file = write(policy("User:{ns}.{sa}", "User:a"));
        PolicySource source = PolicySource.open(file, clock);
        assertEquals(1, source.snapshot().generation());
        assertEquals("User:orders.writer", principalOf(source));

        Files.writeString(file, policy("User:{sa}-{ns}", "User:a"));
        // Not due yet, then seen changing, then read.
        clock.advance(CHECK.minusMillis(1));
        assertEquals("User:orders.writer", principalOf(source));
        clock.advance(Duration.ofMillis(1));
        assertEquals("User:orders.writer", principalOf(source));
        clock.advance(CHECK);
        assertEquals("User:writer-orders", principalOf(source));
        assertEquals(2, source.snapshot().generation());
        assertEquals(PolicyDigest.sha256Hex(Files.readAllBytes(file)), source.current().sha256());
        assertEquals(0, source.failedLoads());
    }

    @Test
    void aBadFileKeepsTheLastGoodPolicyAndIsCountedOnce() throws Exception {
        Path file = write(policy("User:{ns}.{sa}", "User:a"));
        PolicySource source = PolicySource.open(file, clock);
        String good = source.current().sha256();

        Files.writeString(file, policy("User:{nope}", "User:a"));
        clock.advance(CHECK);
        source.current();
        clock.advance(CHECK);
        assertEquals("User:orders.writer", principalOf(source));
        assertEquals(good, source.current().sha256());
        assertEquals(1, source.snapshot().generation());
        assertEquals(1, source.failedLoads());
        assertEquals(
                file
                        + ":4: principals[0].principal: {nope} is not a capture of the id"
                        + " pattern (its captures: ns, sa): \"User:{nope}\" (policy sha256:"
                        + PolicyDigest.sha256Hex(Files.readAllBytes(file))
                        + ")",
                source.lastFailure());
        // Seen again at every full read: not counted again.
        clock.advance(PolicySource.FULL_READ_INTERVAL);
        source.current();
        assertEquals(1, source.failedLoads());

        // Deleted: a failure of its own; the policy stays.
        Files.delete(file);
        clock.advance(CHECK);
        assertEquals("User:orders.writer", principalOf(source));
        assertEquals(2, source.failedLoads());

        Files.writeString(file, policy("User:{sa}", "User:a"));
        clock.advance(CHECK);
        source.current();
        clock.advance(CHECK);
        assertEquals("User:writer", principalOf(source));
        assertEquals(2, source.snapshot().generation());
        assertNull(source.lastFailure());
    }

    @Test
    void sameBytesDoNotMakeAGeneration() throws Exception {
        Path file = write(policy("User:{ns}.{sa}", "User:a"));
        PolicySource source = PolicySource.open(file, clock);
        Files.setLastModifiedTime(file, FileTime.from(Instant.parse("2020-01-01T00:00:00Z")));
        clock.advance(CHECK);
        source.current();
        clock.advance(CHECK);
        assertEquals(1, source.snapshot().generation());
    }

    @Test
    void aRewriteKeepingSizeAndMtimeIsCaughtByTheFullRead() throws Exception {
        Path file = write(policy("User:{ns}.{sa}", "User:a"));
        PolicySource source = PolicySource.open(file, clock);
        FileTime mtime = Files.getLastModifiedTime(file);
        Files.writeString(file, policy("User:{sa}.{ns}", "User:a")); // same length
        Files.setLastModifiedTime(file, mtime);
        for (int i = 0; i < 3; i++) {
            clock.advance(CHECK);
            assertEquals("User:orders.writer", principalOf(source));
        }
        clock.set(clock.instant().plus(PolicySource.FULL_READ_INTERVAL));
        assertEquals("User:writer.orders", principalOf(source));
    }

    @Test
    void aClockStepBackwardsChecksAtOnce() throws Exception {
        Path file = write(policy("User:{ns}.{sa}", "User:a"));
        PolicySource source = PolicySource.open(file, clock);
        Files.writeString(file, policy("User:{sa}", "User:a"));
        clock.advance(Duration.ofMinutes(-10));
        source.current();
        clock.advance(Duration.ofMinutes(-10));
        assertEquals("User:writer", principalOf(source));
    }

    @Test
    void superUsersFollowTheFile() throws Exception {
        Path file = write(policy("User:{ns}.{sa}", "User:a"));
        PolicySource source = PolicySource.open(file, clock);
        assertEquals(true, source.current().superUsers().contains("User:a"));
        Files.writeString(file, policy("User:{ns}.{sa}", "User:bb"));
        clock.advance(CHECK);
        source.current();
        clock.advance(CHECK);
        assertEquals(false, source.current().superUsers().contains("User:a"));
        assertEquals(true, source.current().superUsers().contains("User:bb"));
    }

    @Test
    void oneSourcePerFileInTheJvm() throws Exception {
        Path file = write(policy("User:{ns}.{sa}", "User:a"));
        Path other = tmp.resolve("other.yaml");
        Files.writeString(other, policy("User:{ns}.{sa}", "User:a"));
        PolicySource first =
                PolicyConfig.required(
                        Map.of(PolicyConfig.POLICY_FILE_CONFIG, file.toString()), "test");
        // What each plugin class does with the same broker config, and a path spelt otherwise.
        assertSame(
                first,
                PolicyConfig.required(
                        Map.of(PolicyConfig.POLICY_FILE_CONFIG, file.toString()), "test"));
        assertSame(first, PolicySource.shared(tmp.resolve("x/../policy.yaml").toString()));
        assertNotSame(first, PolicySource.shared(other.toString()));
        ConfigException e =
                assertThrows(
                        ConfigException.class,
                        () ->
                                PolicyConfig.required(
                                        Map.of(
                                                PolicyConfig.POLICY_FILE_CONFIG,
                                                tmp.resolve("none.yaml").toString()),
                                        "test"));
        assertEquals(
                "mayfly.policy.file: "
                        + tmp.resolve("none.yaml")
                        + ": cannot read the policy: java.nio.file.NoSuchFileException: "
                        + tmp.resolve("none.yaml"),
                e.getMessage());
    }

    @Test
    void theDigestIsSha256OfTheFileBytes() throws Exception {
        Policy p = Policy.load(RepoFiles.find("bridge/testdata/mapping_policy.yaml"));
        assertEquals(MAPPING_POLICY_SHA256, p.sha256());
        assertEquals("policy sha256:" + MAPPING_POLICY_SHA256, PolicyDigest.line(p.sha256()));
        // Parsed text: the digest of its UTF-8 bytes (printf ... | sha256sum). Comments
        // count: the digest names the file, not its meaning.
        String text = "trust_domains: [t]\nprincipals: []\n";
        assertEquals(
                "ddf915c891417bb3b6eba21b5908bce774f8998d8fcc75c51aff87e9a7adafc9",
                Policy.parse(text, "p").sha256());
        assertNotEquals(
                Policy.parse(text, "p").sha256(), Policy.parse(text + "# x\n", "p").sha256());
    }
}
