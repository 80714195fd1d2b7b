// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// authorizer.class.name for a KRaft broker or controller: Kafka's
// StandardAuthorizer (ACLs still live in the cluster metadata, so
// `mayfly bridge apply` keeps working), with two additions:
//   - super users also come from the policy's super_users
//     (`mayfly.policy.file`), besides any `super.users` set directly. They
//     are looked up in the broker's shared PolicySource at each
//     authorization, so they follow the policy's reloads; they are not
//     handed to StandardAuthorizer.configure, which cannot take them again
//     safely (it copies its ACL data, racing the metadata thread's addAcl);
//   - a SpiffePrincipal whose SVID expired more than EXPIRY_GRACE ago is
//     denied everything. This is a backstop for requests forwarded to the
//     controller, which carry the principal (and its NotAfter, through the
//     serde) but never pass the client connection's own check. That check
//     (the engine factory's, or the principal builder's) is made when a
//     request is read, and closes the connection instead of denying, since
//     librdkafka and the Java client treat an authorization error as
//     permanent; a request read just before NotAfter may be authorized just
//     after it, which the grace keeps from becoming such an error. Measured:
//     without it a Java producer lost a message at an SVID's expiry.
// It also publishes the principal builder's count of enforced closes as a
// plugin metric (Monitorable; KIP-877 gives authorizers a registry).
// Thread-safe, like StandardAuthorizer.
package dev.mayfly.kafka.authorizer;

import dev.mayfly.kafka.policy.PolicyConfig;
import dev.mayfly.kafka.policy.PolicySource;
import dev.mayfly.kafka.principal.ExpiryEnforcement;
import dev.mayfly.kafka.principal.PolicyEnforcement;
import dev.mayfly.kafka.principal.SpiffePrincipal;

import org.apache.kafka.common.metrics.Gauge;
import org.apache.kafka.common.metrics.PluginMetrics;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.metadata.authorizer.StandardAuthorizer;
import org.apache.kafka.server.authorizer.Action;
import org.apache.kafka.server.authorizer.AuthorizableRequestContext;
import org.apache.kafka.server.authorizer.AuthorizationResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

public class SpiffeAuthorizer extends StandardAuthorizer {
    /** The same property the principal builder reads. */
    public static final String POLICY_FILE_CONFIG = PolicyConfig.POLICY_FILE_CONFIG;

    /**
     * How long after NotAfter a principal is still authorized: Kafka's default request.timeout.ms,
     * past which a client has given up on the request anyway.
     */
    public static final Duration EXPIRY_GRACE = Duration.ofSeconds(30);

    private static final Logger log = LoggerFactory.getLogger(SpiffeAuthorizer.class);

    private final Clock clock;
    private volatile PolicySource policy;
    private final AtomicLong expiredDenials = new AtomicLong();
    // SVIDs whose denial was logged; bounded, oldest forgotten first.
    private static final int MAX_LOGGED_SVIDS = 10_000;
    private final Map<String, Boolean> logged =
            new LinkedHashMap<>() {
                private static final long serialVersionUID = 1L;

                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                    return size() > MAX_LOGGED_SVIDS;
                }
            };

    public SpiffeAuthorizer() {
        this(Clock.systemUTC());
    }

    /** For tests: a fake clock. */
    SpiffeAuthorizer(Clock clock) {
        this.clock = clock;
    }

    /** For tests: a policy source of their own (a fake clock drives its reloads). */
    SpiffeAuthorizer(Clock clock, PolicySource policy) {
        this.clock = clock;
        this.policy = policy;
    }

    @Override
    public void configure(Map<String, ?> configs) {
        if (policy == null) {
            policy =
                    PolicyConfig.required(
                            configs,
                            "the Mayfly policy file whose super_users the authorizer adds to"
                                    + " super.users");
        }
        super.configure(configs);
    }

    /** The policy this authorizer follows (the broker's shared one once configured). */
    PolicySource policySource() {
        return policy;
    }

    @Override
    public List<AuthorizationResult> authorize(
            AuthorizableRequestContext context, List<Action> actions) {
        if (context.principal() instanceof SpiffePrincipal sp) {
            Instant now = clock.instant();
            if (sp.expiredAt(now.minus(EXPIRY_GRACE))) {
                expiredDenials.incrementAndGet();
                if (firstDenial(sp.spiffeId() + " " + sp.notAfter())) {
                    log.warn(
                            "denying {} ({}): its SVID expired at {} (now {})",
                            sp,
                            sp.spiffeId(),
                            sp.notAfter(),
                            now);
                }
                return new ArrayList<>(
                        Collections.nCopies(actions.size(), AuthorizationResult.DENIED));
            }
        }
        // As StandardAuthorizer treats super.users: everything allowed, DENY
        // ACLs included. KafkaPrincipal.toString is "Type:Name", the form
        // super_users is written in.
        KafkaPrincipal principal = context.principal();
        if (policy.current()
                .isSuperUser(principal.getPrincipalType() + ":" + principal.getName())) {
            return new ArrayList<>(
                    Collections.nCopies(actions.size(), AuthorizationResult.ALLOWED));
        }
        return super.authorize(context, actions);
    }

    // Logs once per SVID (ID and NotAfter), not once per forwarded request.
    private boolean firstDenial(String svid) {
        synchronized (logged) {
            return logged.put(svid, Boolean.TRUE) == null;
        }
    }

    /** Requests denied because their principal's SVID had expired. */
    public long expiredDenials() {
        return expiredDenials.get();
    }

    @Override
    public void withPluginMetrics(PluginMetrics metrics) {
        super.withPluginMetrics(metrics);
        metrics.addMetric(
                metrics.metricName(
                        "expired-svid-connection-closes",
                        "Connections the Mayfly plugin closed because the client SVID" + " expired",
                        new LinkedHashMap<>()),
                (Gauge<Long>) (config, nowMs) -> ExpiryEnforcement.enforcedCloses());
        metrics.addMetric(
                metrics.metricName(
                        "expired-svid-denials",
                        "Requests the Mayfly authorizer denied because the principal's SVID"
                                + " expired",
                        new LinkedHashMap<>()),
                (Gauge<Long>) (config, nowMs) -> expiredDenials.get());
        metrics.addMetric(
                metrics.metricName(
                        "policy-change-connection-closes",
                        "Connections the Mayfly plugin closed because a reloaded policy no"
                                + " longer gives them their principal",
                        new LinkedHashMap<>()),
                (Gauge<Long>) (config, nowMs) -> PolicyEnforcement.policyCloses());
        metrics.addMetric(
                metrics.metricName(
                        "policy-load-failures",
                        "Changes to the Mayfly policy file that did not load (the last good"
                                + " policy stays in force)",
                        new LinkedHashMap<>()),
                (Gauge<Long>) (config, nowMs) -> policy.failedLoads());
    }
}
