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
// Policy reloads. The policy is the broker's shared PolicySource, which
// reloads the file when it changes. A connection keeps the principal its
// first request got (SessionPrincipals); when a reloaded policy gives its
// SPIFFE ID another principal, or denies it, build() refuses the request and
// the broker closes the connection, as for an expired SVID. The client may
// reconnect and gets what the new policy says. The session is invalidated
// too, so a TLS 1.2 client cannot resume it into the same refusal. Each such
// close is counted (PolicyEnforcement) and logged once per certificate and
// policy generation, at WARN.
//
// build() is on the request path, so what a certificate maps to is cached
// (bounded) per policy generation, and a request costs a few map lookups
// and a clock read. Thread-safe: the broker shares one builder between its
// network threads.
package dev.mayfly.kafka.principal;

import dev.mayfly.kafka.policy.MapResult;
import dev.mayfly.kafka.policy.PolicyConfig;
import dev.mayfly.kafka.policy.PolicyDigest;
import dev.mayfly.kafka.policy.PolicySource;
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
import javax.net.ssl.SSLSession;

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
    private volatile PolicySource policy;
    // Keyed by the certificate (Certificate.equals compares encodings, and
    // its hashCode is computed once per certificate object).
    private final Map<X509Certificate, Resolved> cache = new ConcurrentHashMap<>();
    private final SessionPrincipals sessions = new SessionPrincipals();
    // Keys: a certificate (its expiry was logged) or a PolicyClose.
    private final Map<Object, Boolean> logged =
            new LinkedHashMap<>(16, 0.75f, false) {
                private static final long serialVersionUID = 1L;

                @Override
                protected boolean removeEldestEntry(Map.Entry<Object, Boolean> eldest) {
                    return size() > MAX_LOGGED_CERTIFICATES;
                }
            };

    /**
     * What a certificate maps to under policy `generation`: a principal and its "Type:Name", or why
     * it has none, and its SPIFFE ID when it has one.
     */
    private record Resolved(
            SpiffePrincipal principal, String name, String denial, String id, long generation) {}

    // A close for a policy change, logged once per certificate and generation.
    private record PolicyClose(X509Certificate leaf, long generation) {}

    /** Used by Kafka, which instantiates the class by name. */
    public SpiffePrincipalBuilder() {
        this(Clock.systemUTC());
    }

    /** For tests: a fake clock. */
    SpiffePrincipalBuilder(Clock clock) {
        this.clock = clock;
    }

    /** For tests: a policy source of their own (a fake clock drives its reloads). */
    SpiffePrincipalBuilder(Clock clock, PolicySource policy) {
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

    /** The policy this builder follows (the broker's shared one once configured). */
    PolicySource policySource() {
        return policy;
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
        PolicySource source = policy;
        if (source == null) {
            throw new IllegalStateException("SpiffePrincipalBuilder used before configure()");
        }
        PolicySource.Snapshot snapshot = source.snapshot();
        Resolved resolved = cache.get(leaf);
        if (resolved == null || resolved.generation() != snapshot.generation()) {
            resolved = resolve(leaf, snapshot);
            if (cache.size() >= MAX_CACHED_CERTIFICATES) {
                cache.clear();
            }
            cache.put(leaf, resolved);
        }
        SSLSession session = ssl.session();
        if (resolved.principal() == null) {
            String had = sessions.recorded(session);
            if (had != null) {
                throw policyClose(ssl, leaf, had, resolved.denial(), snapshot);
            }
            throw new SpiffeDeniedException(resolved.denial());
        }
        String first = sessions.firstOrRecord(session, resolved.name());
        if (!first.equals(resolved.name())) {
            throw policyClose(
                    ssl,
                    leaf,
                    first,
                    "the policy now maps " + resolved.id() + " to " + resolved.name(),
                    snapshot);
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
        return firstLog(leaf);
    }

    private boolean firstLog(Object key) {
        synchronized (logged) {
            return logged.put(key, Boolean.TRUE) == null;
        }
    }

    // The refusal that closes a connection whose principal was `had` under an
    // earlier policy; `why` says what the current one does instead.
    private SpiffeDeniedException policyClose(
            SslAuthenticationContext ssl,
            X509Certificate leaf,
            String had,
            String why,
            PolicySource.Snapshot snapshot) {
        PolicyEnforcement.recordClose();
        // A TLS 1.2 client could resume this session, and so this entry.
        ssl.session().invalidate();
        String message =
                "closing the connection of "
                        + had
                        + ": the policy changed ("
                        + PolicyDigest.line(snapshot.policy().sha256())
                        + ", generation "
                        + snapshot.generation()
                        + "): "
                        + why;
        if (firstLog(new PolicyClose(leaf, snapshot.generation()))) {
            log.warn(
                    "{} (listener {}, client {})",
                    message,
                    ssl.listenerName(),
                    ssl.clientAddress());
        }
        return new SpiffeDeniedException(message);
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

    private static Resolved resolve(X509Certificate leaf, PolicySource.Snapshot snapshot) {
        long generation = snapshot.generation();
        SpiffeId id;
        try {
            id = X509Svid.spiffeIdFromCert(leaf);
        } catch (InvalidSvidException e) {
            return new Resolved(
                    null,
                    null,
                    "not an X.509-SVID ("
                            + e.getMessage()
                            + "); subject "
                            + leaf.getSubjectX500Principal().getName(),
                    null,
                    generation);
        }
        MapResult result = snapshot.policy().map(id);
        if (!result.isMapped()) {
            return new Resolved(
                    null,
                    null,
                    "SPIFFE ID "
                            + id
                            + " is denied by the policy: "
                            + result.denial().policyName()
                            + " ("
                            + result.detail()
                            + ")",
                    id.toString(),
                    generation);
        }
        String principal = result.principal().get();
        int colon = principal.indexOf(':'); // The policy checked TYPE:NAME at load.
        return new Resolved(
                new SpiffePrincipal(
                        principal.substring(0, colon),
                        principal.substring(colon + 1),
                        id.toString(),
                        leaf.getNotAfter().toInstant()),
                principal,
                null,
                id.toString(),
                generation);
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
