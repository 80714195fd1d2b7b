// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// principal.builder.class for a Kafka broker: the principal is the peer
// certificate's SPIFFE ID mapped by the Mayfly policy (`mayfly.policy.file`),
// exactly as `mayfly bridge map` maps it, and it carries the SVID's
// NotAfter.
//
// Expiry enforcement. Kafka checks a client certificate once, at the
// handshake, but in 4.4.0 the broker calls build() again for every request
// (kafka.network.Processor.processCompletedReceives makes each request's
// RequestContext with KafkaChannel.principal(), which calls
// SslAuthenticator.principal(), which calls build()), and any Throwable there
// goes to processChannelException, which logs it and closes the connection. So build() throws
// SvidExpiredException once now > NotAfter: no request is served on an
// expired SVID, and a client that has renewed reconnects with its new one.
// This relies on broker behaviour that is not a public contract; the
// end-to-end test in tests/kafka must fail loudly if an upgrade loses it.
// Each enforced close is counted (ExpiryEnforcement) and logged once per
// certificate, at WARN, without a stack trace.
//
// build() is on the request path, so what a certificate maps to is cached
// (bounded) and a request costs one lookup and one clock read. Thread-safe:
// the broker shares one builder between its network threads.
package dev.mayfly.kafka.principal;

import dev.mayfly.kafka.policy.MapResult;
import dev.mayfly.kafka.policy.Policy;
import dev.mayfly.kafka.policy.PolicyConfig;
import dev.mayfly.kafka.spiffe.InvalidSvidException;
import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.spiffe.X509Svid;

import org.apache.kafka.common.Configurable;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.security.auth.AuthenticationContext;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.KafkaPrincipalBuilder;
import org.apache.kafka.common.security.auth.KafkaPrincipalSerde;
import org.apache.kafka.common.security.auth.PlaintextAuthenticationContext;
import org.apache.kafka.common.security.auth.SslAuthenticationContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import javax.net.ssl.SSLPeerUnverifiedException;

public class SpiffePrincipalBuilder
        implements KafkaPrincipalBuilder, KafkaPrincipalSerde, Configurable {
    /** The broker property naming the policy file (docs/kafka.md). */
    public static final String POLICY_FILE_CONFIG = PolicyConfig.POLICY_FILE_CONFIG;

    private static final Logger log = LoggerFactory.getLogger(SpiffePrincipalBuilder.class);

    // Certificates whose mapping is cached. A broker sees at most a few
    // thousand distinct client SVIDs within their lifetimes; past this the
    // cache is simply emptied and refilled.
    private static final int MAX_CACHED_CERTIFICATES = 10_000;
    // Certificates whose enforced close was logged, remembered so a client
    // that keeps presenting one expired SVID is logged once.
    private static final int MAX_LOGGED_CERTIFICATES = 10_000;

    private final Clock clock;
    private final SpiffePrincipalSerde serde = new SpiffePrincipalSerde();
    private volatile Policy policy;
    // Keyed by the certificate (Certificate.equals compares encodings, and
    // its hashCode is computed once per certificate object).
    private final Map<X509Certificate, Resolved> cache = new ConcurrentHashMap<>();
    private final Map<X509Certificate, Boolean> logged =
            new LinkedHashMap<>(16, 0.75f, false) {
                private static final long serialVersionUID = 1L;

                @Override
                protected boolean removeEldestEntry(Map.Entry<X509Certificate, Boolean> eldest) {
                    return size() > MAX_LOGGED_CERTIFICATES;
                }
            };

    /** What a certificate maps to: a principal, or why it has none. */
    private record Resolved(SpiffePrincipal principal, String denial) {}

    /** Used by Kafka, which instantiates the class by name. */
    public SpiffePrincipalBuilder() {
        this(Clock.systemUTC());
    }

    /** For tests: a fake clock. */
    SpiffePrincipalBuilder(Clock clock) {
        this.clock = clock;
    }

    /** For tests: a policy without a file. */
    SpiffePrincipalBuilder(Clock clock, Policy policy) {
        this.clock = clock;
        this.policy = policy;
    }

    @Override
    public void configure(Map<String, ?> configs) {
        policy =
                PolicyConfig.required(
                        configs, "the Mayfly policy file that maps SPIFFE IDs to principals");
        cache.clear();
    }

    @Override
    public KafkaPrincipal build(AuthenticationContext context) {
        if (context instanceof PlaintextAuthenticationContext) {
            // No certificate, no identity: what Kafka's default builder gives.
            return KafkaPrincipal.ANONYMOUS;
        }
        if (!(context instanceof SslAuthenticationContext ssl)) {
            throw new SpiffeDeniedException(
                    "the SPIFFE principal builder serves SSL listeners only, not "
                            + context.securityProtocol());
        }
        X509Certificate leaf = peerLeaf(ssl);
        Resolved resolved = cache.get(leaf);
        if (resolved == null) {
            resolved = resolve(leaf);
            if (cache.size() >= MAX_CACHED_CERTIFICATES) {
                cache.clear();
            }
            cache.put(leaf, resolved);
        }
        if (resolved.principal() == null) {
            throw new SpiffeDeniedException(resolved.denial());
        }
        SpiffePrincipal principal = resolved.principal();
        Instant now = clock.instant();
        if (principal.expiredAt(now)) {
            ExpiryEnforcement.recordClose();
            String message =
                    "closing the connection of "
                            + principal
                            + " ("
                            + principal.spiffeId()
                            + "): its SVID expired at "
                            + principal.notAfter();
            if (firstEnforcement(leaf)) {
                log.warn(
                        "{} (now {}, listener {}, client {})",
                        message,
                        now,
                        ssl.listenerName(),
                        ssl.clientAddress());
            }
            throw new SvidExpiredException(message);
        }
        return principal;
    }

    /** Whether this is the first enforced close for `leaf` to be logged. */
    boolean firstEnforcement(X509Certificate leaf) {
        synchronized (logged) {
            return logged.put(leaf, Boolean.TRUE) == null;
        }
    }

    private static X509Certificate peerLeaf(SslAuthenticationContext ssl) {
        Certificate[] chain;
        try {
            chain = ssl.session().getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            throw new SpiffeDeniedException(
                    "no client certificate: a SPIFFE listener needs ssl.client.auth=required");
        }
        if (chain == null || chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
            throw new SpiffeDeniedException("the client did not present an X.509 certificate");
        }
        return leaf;
    }

    private Resolved resolve(X509Certificate leaf) {
        Policy current = policy;
        if (current == null) {
            throw new IllegalStateException("SpiffePrincipalBuilder used before configure()");
        }
        SpiffeId id;
        try {
            id = X509Svid.spiffeIdFromCert(leaf);
        } catch (InvalidSvidException e) {
            return new Resolved(
                    null,
                    "not an X.509-SVID ("
                            + e.getMessage()
                            + "); subject "
                            + leaf.getSubjectX500Principal().getName());
        }
        MapResult result = current.map(id);
        if (!result.isMapped()) {
            return new Resolved(
                    null,
                    "SPIFFE ID "
                            + id
                            + " is denied by the policy: "
                            + result.denial().policyName()
                            + " ("
                            + result.detail()
                            + ")");
        }
        String principal = result.principal().get();
        int colon = principal.indexOf(':'); // The policy checked TYPE:NAME at load.
        return new Resolved(
                new SpiffePrincipal(
                        principal.substring(0, colon),
                        principal.substring(colon + 1),
                        id.toString(),
                        leaf.getNotAfter().toInstant()),
                null);
    }

    @Override
    public byte[] serialize(KafkaPrincipal principal) throws SerializationException {
        return serde.serialize(principal);
    }

    @Override
    public KafkaPrincipal deserialize(byte[] bytes) throws SerializationException {
        return serde.deserialize(bytes);
    }
}
