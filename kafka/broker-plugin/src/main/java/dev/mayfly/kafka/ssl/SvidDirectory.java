// Follows a directory kept by `mayfly watch x509 --write`: on each refresh()
// it reads the ..data link (one readlink), and only when the link names a new
// version directory does it load that directory as one set and build T from
// it. A version that fails (..data not naming a directory beside it, a
// missing, non-regular or unparsable file, key not matching the leaf, T
// refusing it: another workload's SVID, an expired one) is logged once at
// WARN, counted, and skipped: the last good T stays.
// Thread-safe: refresh() may be called from every network thread at once.
package dev.mayfly.kafka.ssl;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;

/** The newest good material of an SVID directory, rebuilt when ..data moves. */
public final class SvidDirectory<T> {
    /** The symlink naming the current version directory (identity/svid_files.h). */
    static final String DATA_LINK = "..data";

    // Versions tried in one refresh when each vanishes under a newer one.
    private static final int MAX_LOAD_ATTEMPTS = 3;

    private static final Logger log = LoggerFactory.getLogger(SvidDirectory.class);

    /** Builds what the caller needs from a loaded set; may refuse it. */
    @FunctionalInterface
    public interface Builder<T> {
        T build(SvidSet set) throws SvidSet.LoadException;
    }

    private final Path dir;
    private final Builder<T> builder;
    private final Object lock = new Object();
    // The ..data target last acted on, good or bad; guarded by lock for writes,
    // volatile so that the common case (unchanged) reads it without the lock.
    private volatile String seenVersion;
    private volatile Loaded<T> current;
    // Versions refused (each counted, and logged, once); read without the lock.
    private volatile long refusals;

    private static final class Loaded<T> {
        final SvidSet set;
        final T value;

        Loaded(SvidSet set, T value) {
            this.set = set;
            this.value = value;
        }
    }

    private SvidDirectory(Path dir, Builder<T> builder) {
        this.dir = dir;
        this.builder = builder;
    }

    /**
     * Loads the current version of {@code dir}; fails when there is none that is good, since there
     * is no last good one to keep yet.
     */
    public static <T> SvidDirectory<T> open(Path dir, Builder<T> builder)
            throws SvidSet.LoadException {
        SvidDirectory<T> d = new SvidDirectory<>(dir, builder);
        // A broker starting while the watch rotates its SVID can read a
        // version as it is removed: as in loadLocked, that is no reason to
        // fail (the broker would exit), when ..data names a newer one.
        String version = d.readVersion();
        for (int attempt = 1; ; attempt++) {
            d.seenVersion = version;
            try {
                d.current = d.load(version);
                break;
            } catch (SvidSet.LoadException e) {
                String now = d.readVersion();
                if (now.equals(version) || attempt == MAX_LOAD_ATTEMPTS) {
                    throw e;
                }
                version = now;
            }
        }
        log.info(
                "Loaded SVID {} from {} (version {}, expires {}, {} bundle roots)",
                describe(d.current.set),
                dir,
                version,
                d.current.set.leaf().getNotAfter().toInstant(),
                d.current.set.bundle().size());
        return d;
    }

    /** Picks up a new version if ..data moved, then returns the newest good value. */
    public T refresh() {
        // Fast path, no lock: ..data still names the version last acted on.
        if (currentState().equals(seenVersion)) {
            return current.value;
        }
        synchronized (lock) {
            // Read again under the lock: a value read before it may be older
            // than what another thread has loaded meanwhile, and ..data only
            // ever moves forward.
            String version;
            try {
                version = readVersion();
            } catch (SvidSet.LoadException e) {
                // ..data gone or not a link: keep serving; log once per state.
                String state = "<" + e.getMessage() + ">";
                if (!state.equals(seenVersion)) {
                    seenVersion = state;
                    refusals++;
                    log.warn("Keeping SVID version {}: {}", current.set.version(), e.getMessage());
                }
                return current.value;
            }
            if (!version.equals(seenVersion)) {
                loadLocked(version);
            }
            return current.value;
        }
    }

    // The ..data target, or a marker of why there is none (compared only).
    private String currentState() {
        try {
            return readVersion();
        } catch (SvidSet.LoadException e) {
            return "<" + e.getMessage() + ">";
        }
    }

    // A writer removes the previous version directory right after switching
    // ..data, so a version read just before a switch can vanish mid-read. That
    // is not a bad version: if ..data has moved on, load the new one instead.
    private void loadLocked(String version) {
        for (int attempt = 1; ; attempt++) {
            seenVersion = version;
            try {
                Loaded<T> next = load(version);
                current = next;
                log.info(
                        "Loaded SVID {} from {} (version {}, expires {}, {} bundle roots)",
                        describe(next.set),
                        dir,
                        version,
                        next.set.leaf().getNotAfter().toInstant(),
                        next.set.bundle().size());
                return;
            } catch (SvidSet.LoadException e) {
                String now;
                try {
                    now = readVersion();
                } catch (SvidSet.LoadException gone) {
                    now = version;
                }
                if (now.equals(version) || attempt == MAX_LOAD_ATTEMPTS) {
                    refusals++;
                    log.warn(
                            "Refusing SVID version {} in {}, keeping version {}: {}",
                            version,
                            dir,
                            current.set.version(),
                            e.getMessage());
                    return;
                }
                version = now;
            }
        }
    }

    /** The set behind the value refresh() last returned. */
    public SvidSet currentSet() {
        return current.set;
    }

    /** How many versions (or broken ..data states) were refused and logged so far. */
    public long refusals() {
        return refusals;
    }

    private String readVersion() throws SvidSet.LoadException {
        Path link = dir.resolve(DATA_LINK);
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (NoSuchFileException e) {
            throw new SvidSet.LoadException(
                    link
                            + ": missing (is "
                            + dir
                            + " a directory written by `mayfly watch x509 --write`?)");
        } catch (NotLinkException e) {
            throw new SvidSet.LoadException(link + ": not a symlink");
        } catch (IOException e) {
            throw new SvidSet.LoadException(link + ": " + e);
        }
    }

    private Loaded<T> load(String version) throws SvidSet.LoadException {
        // The writer links ..data to a directory beside it (svid_files.cc
        // Publish); anything else (a path elsewhere, a symlink) is not one
        // of its versions.
        Path versionDir = dir.resolve(version);
        if (version.contains("/")
                || version.equals(".")
                || version.equals("..")
                || !Files.isDirectory(versionDir, LinkOption.NOFOLLOW_LINKS)) {
            throw new SvidSet.LoadException(
                    dir.resolve(DATA_LINK)
                            + " -> "
                            + version
                            + ": not a version directory in "
                            + dir);
        }
        // The target is resolved once; files are read inside that version
        // directory, which never changes once published, so they match.
        SvidSet set = SvidSet.load(versionDir, version);
        return new Loaded<>(set, builder.build(set));
    }

    private static String describe(SvidSet set) {
        try {
            return SpiffeTrustManager.spiffeIdOf(set.leaf()).toString();
        } catch (java.security.cert.CertificateException e) {
            return set.leaf().getSubjectX500Principal().getName();
        }
    }
}
