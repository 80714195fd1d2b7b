// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The broker's one copy of the policy file, kept current. The principal
// builder, the authorizer and the engine factory each get it with
// shared(file), so a broker holds one policy per file (not one per class,
// rebuilt engine factory included) and all three see a change at once.
//
// Reloading. The file is checked when the policy is used, at most once per
// CHECK_INTERVAL (a request, an authorization or a handshake all use it, so
// a busy broker notices a change within the interval; an idle one at its
// next request). A check is one stat (inode, size, mtime). A change is read
// once the file has been stable for one check, so an in-place write is not
// read half-done; a rename (the safe way to replace a file) is read at the
// next check after it is seen. Every FULL_READ_INTERVAL the file is read
// anyway, which catches a rewrite that kept size and mtime. Content equal to
// the current policy's (same SHA-256) changes nothing. New content that does
// not load keeps the last good policy; the error, as the loader gives it
// (FILE:LINE: FIELD: what), is logged at ERROR once per bad content and
// counted (failedLoads()). Every load logs "policy sha256:HEX" at INFO.
//
// Time comes from the injected Clock (tests move a fake one). It is a wall
// clock, so a step backwards makes the next use check at once instead of
// waiting for the clock to come back.
//
// Thread-safe: snapshot() is a volatile read on the fast path; at most one
// thread checks at a time (tryLock), the others use the current policy
// rather than wait behind file I/O.
package dev.mayfly.kafka.policy;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

public final class PolicySource {
    /** How often a change to the file is looked for: a stat, negligible at this rate. */
    public static final Duration CHECK_INTERVAL = Duration.ofSeconds(2);

    /** How often the file is read even if its stat looks unchanged. */
    public static final Duration FULL_READ_INTERVAL = Duration.ofMinutes(1);

    private static final Logger log = LoggerFactory.getLogger(PolicySource.class);

    // One source per file in this JVM (a broker's plugin classes share it).
    // Keyed by the absolute, normalised path, not the real path: a config
    // directory swapped by symlink (a Kubernetes ConfigMap) must keep being
    // read through the configured path. Never emptied: a broker names one file.
    private static final ConcurrentMap<Path, PolicySource> SHARED = new ConcurrentHashMap<>();

    /** The policy in force and how many loads it is from the first (1). */
    public record Snapshot(Policy policy, long generation) {}

    // What a stat says about the file; equal stamps mean "probably unchanged".
    private record Stamp(Object fileKey, long size, FileTime modified) {}

    private final Path path;
    private final Clock clock;
    private final ReentrantLock checkLock = new ReentrantLock();
    private final AtomicLong failedLoads = new AtomicLong();
    private volatile Snapshot current;
    private volatile long lastCheckMillis;
    // Guarded by checkLock.
    private Stamp seen; // at the last check
    private Stamp read; // when the file was last read
    private long lastReadMillis;
    private String lastFailure; // logged already; null after a good read

    private PolicySource(Path path, Clock clock, Policy first, Stamp stamp) {
        this.path = path;
        this.clock = clock;
        this.current = new Snapshot(first, 1);
        this.seen = stamp;
        this.read = stamp;
        this.lastCheckMillis = clock.millis();
        this.lastReadMillis = lastCheckMillis;
        logLoad(current);
    }

    /**
     * The JVM's source for `file`, loaded now if it is the first use; a PolicyException if that
     * load fails.
     */
    public static PolicySource shared(String file) throws PolicyException {
        Path key = Path.of(file).toAbsolutePath().normalize();
        PolicySource existing = SHARED.get(key);
        if (existing != null) {
            return existing;
        }
        // Under a lock so the plugin classes, configured on different
        // threads, do not each load (and log) the file; held only at startup.
        synchronized (SHARED) {
            existing = SHARED.get(key);
            if (existing == null) {
                existing = open(key, Clock.systemUTC());
                SHARED.put(key, existing);
            }
            return existing;
        }
    }

    /** A source of its own (not shared), for tests: a fake clock. */
    public static PolicySource open(Path path, Clock clock) throws PolicyException {
        Stamp stamp;
        try {
            stamp = stamp(path);
        } catch (IOException e) {
            throw new PolicyException(path + ": cannot read the policy: " + e, e);
        }
        return new PolicySource(path, clock, Policy.load(path), stamp);
    }

    /** The policy in force, after a check if one is due. */
    public Policy current() {
        return snapshot().policy();
    }

    /** The policy in force and its generation, after a check if one is due. */
    public Snapshot snapshot() {
        long now = clock.millis();
        long last = lastCheckMillis;
        if ((now - last >= CHECK_INTERVAL.toMillis() || now < last) && checkLock.tryLock()) {
            try {
                check(now);
            } finally {
                checkLock.unlock();
            }
        }
        return current;
    }

    /** New contents that loaded since this source opened (checking first if a check is due). */
    public long reloads() {
        return snapshot().generation() - 1;
    }

    /** New contents that failed to load (each distinct failure once) since this source opened. */
    public long failedLoads() {
        return failedLoads.get();
    }

    /** The last load error logged, or null if the file loaded since (for tests, diagnostics). */
    public String lastFailure() {
        checkLock.lock();
        try {
            return lastFailure;
        } finally {
            checkLock.unlock();
        }
    }

    /** The file as configured, made absolute. */
    public Path path() {
        return path;
    }

    // Holds checkLock.
    private void check(long now) {
        long last = lastCheckMillis;
        if (now - last < CHECK_INTERVAL.toMillis() && now >= last) {
            return; // another thread checked while this one waited for the lock
        }
        lastCheckMillis = now;
        Stamp stamp;
        try {
            stamp = stamp(path);
        } catch (IOException e) {
            seen = null;
            fail(path + ": cannot read the policy: " + e);
            return;
        }
        boolean stable = stamp.equals(seen);
        seen = stamp;
        boolean backstop =
                now - lastReadMillis >= FULL_READ_INTERVAL.toMillis() || now < lastReadMillis;
        if (!stable || (stamp.equals(read) && !backstop)) {
            return; // changing (look again next time), or already read
        }
        read = stamp;
        lastReadMillis = now;
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            fail(path + ": cannot read the policy: " + e);
            return;
        }
        String sha256 = PolicyDigest.sha256Hex(bytes);
        if (sha256.equals(current.policy().sha256())) {
            lastFailure = null;
            return; // touched, or put back as it was
        }
        Policy policy;
        try {
            policy = Policy.parse(bytes, path.toString());
        } catch (PolicyException e) {
            fail(e.getMessage() + " (" + PolicyDigest.line(sha256) + ")");
            return;
        }
        lastFailure = null;
        Snapshot next = new Snapshot(policy, current.generation() + 1);
        current = next;
        logLoad(next);
    }

    // Holds checkLock (or is the constructor).
    private void fail(String error) {
        if (Objects.equals(error, lastFailure)) {
            return; // the same bad file seen again
        }
        lastFailure = error;
        failedLoads.incrementAndGet();
        Snapshot kept = current;
        log.error(
                "the Mayfly policy did not reload, keeping {} (generation {}): {}",
                PolicyDigest.line(kept.policy().sha256()),
                kept.generation(),
                error);
    }

    private void logLoad(Snapshot s) {
        log.info(
                "loaded the Mayfly policy {}: {}, generation {}, {} rules, super users {}",
                path,
                PolicyDigest.line(s.policy().sha256()),
                s.generation(),
                s.policy().ruleCount(),
                s.policy().superUsers());
    }

    private static Stamp stamp(Path path) throws IOException {
        BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
        return new Stamp(a.fileKey(), a.size(), a.lastModifiedTime());
    }
}
