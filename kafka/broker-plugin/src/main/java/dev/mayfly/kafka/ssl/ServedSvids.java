// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The SVID directories this JVM's SvidSslEngineFactory instances serve from
// (the broker makes one per listener, and one for the controller), so that
// their expiry can be published as Kafka metrics. Kafka 4.4 hands a metrics
// registry (KIP-877 Monitorable, PluginMetrics) to the authorizer but not to
// an SslEngineFactory or a KafkaPrincipalBuilder (both are made by
// kafka-clients' ChannelBuilders, which never wraps them as a Plugin), so
// SpiffeAuthorizer publishes these values as gauges. Each read refreshes the
// directories first: a gauge says what the next handshake would be served,
// even on a broker that no client connected to since the SVID rotated.
// Thread-safe.
package dev.mayfly.kafka.ssl;

import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The SVID directories served in this JVM, and when what they serve expires. */
public final class ServedSvids {
    private static final ServedSvids JVM = new ServedSvids();

    private final Set<SvidDirectory<?>> directories = ConcurrentHashMap.newKeySet();

    ServedSvids() {}

    /** The directories of every open SvidSslEngineFactory in this JVM. */
    public static ServedSvids jvm() {
        return JVM;
    }

    void add(SvidDirectory<?> directory) {
        directories.add(directory);
    }

    void remove(SvidDirectory<?> directory) {
        directories.remove(directory);
    }

    // How many directories are served (for tests).
    int size() {
        return directories.size();
    }

    /** The soonest NotAfter of the SVIDs served now; empty while none is. */
    public Optional<Instant> earliestSvidNotAfter() {
        Instant earliest = null;
        for (SvidDirectory<?> d : directories) {
            d.refresh();
            earliest = min(earliest, d.currentSet().leaf());
        }
        return Optional.ofNullable(earliest);
    }

    /** The soonest NotAfter of the bundle roots trusted now; empty while none is. */
    public Optional<Instant> earliestBundleRootNotAfter() {
        Instant earliest = null;
        for (SvidDirectory<?> d : directories) {
            d.refresh();
            for (X509Certificate root : d.currentSet().bundle()) {
                earliest = min(earliest, root);
            }
        }
        return Optional.ofNullable(earliest);
    }

    /** SVID versions refused (the last good one kept serving), over open directories. */
    public long refusals() {
        long n = 0;
        for (SvidDirectory<?> d : directories) {
            n += d.refusals();
        }
        return n;
    }

    private static Instant min(Instant earliest, X509Certificate cert) {
        Instant notAfter = cert.getNotAfter().toInstant();
        return earliest == null || notAfter.isBefore(earliest) ? notAfter : earliest;
    }
}
