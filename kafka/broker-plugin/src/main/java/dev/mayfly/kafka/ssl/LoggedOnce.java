// What SvidSslEngineFactory has logged once per certificate (a close at
// expiry, a refusal at the handshake), so that a client retrying through
// many connections makes one line, not one per attempt.
package dev.mayfly.kafka.ssl;

import java.security.cert.X509Certificate;
import java.util.LinkedHashMap;
import java.util.Map;

/** A bounded set of certificates already logged, oldest forgotten first. Thread-safe. */
final class LoggedOnce {
    // Bounded, oldest forgotten: a broker sees many certificates over time.
    private static final int MAX_LOGGED_CERTIFICATES = 10_000;

    private final Map<X509Certificate, Boolean> seen =
            new LinkedHashMap<>(16, 0.75f, false) {
                private static final long serialVersionUID = 1L;

                @Override
                protected boolean removeEldestEntry(Map.Entry<X509Certificate, Boolean> eldest) {
                    return size() > MAX_LOGGED_CERTIFICATES;
                }
            };

    /** Whether {@code leaf} is new here (and now remembered). */
    synchronized boolean first(X509Certificate leaf) {
        return seen.put(leaf, Boolean.TRUE) == null;
    }
}
