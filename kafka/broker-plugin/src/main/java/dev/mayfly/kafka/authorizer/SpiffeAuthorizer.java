// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// authorizer.class.name for a KRaft broker or controller: Kafka's
// StandardAuthorizer (ACLs still live in the cluster metadata, so
// `mayfly bridge apply` keeps working), with two additions:
//   - super users also come from the policy's super_users
//     (`mayfly.policy.file`), merged with any `super.users` set directly,
//     and follow the policy's reloads: an authorization that finds a new
//     policy generation configures StandardAuthorizer again with the new
//     merge, so its own super-user check and audit log ("... based on
//     superuser") stay Kafka's. That configure is a read-copy-write of
//     StandardAuthorizer's data, as are addAcl, removeAcl, loadSnapshot,
//     setAclMutator and completeInitialLoad (the metadata thread's calls);
//     this class serialises all of them on `dataLock`, or a reload could
//     drop an ACL added meanwhile;
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
// It also publishes the plugin's metrics (Monitorable; KIP-877 gives
// authorizers a registry, and in Kafka 4.4 no other plugin of ours one):
// connections closed at SVID expiry or policy change, policy reloads and
// failed reloads, and, from ServedSvids, when the SVID and the bundle roots
// the broker's SvidSslEngineFactory instances serve expire.
// Thread-safe, like StandardAuthorizer.
package dev.mayfly.kafka.authorizer;

import dev.mayfly.kafka.policy.PolicyConfig;
import dev.mayfly.kafka.policy.PolicySource;
import dev.mayfly.kafka.principal.ExpiryEnforcement;
import dev.mayfly.kafka.principal.PolicyEnforcement;
import dev.mayfly.kafka.principal.SpiffePrincipal;
import dev.mayfly.kafka.ssl.ServedSvids;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.metrics.Gauge;
import org.apache.kafka.common.metrics.PluginMetrics;
import org.apache.kafka.metadata.authorizer.AclMutator;
import org.apache.kafka.metadata.authorizer.StandardAcl;
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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
    // Serialises every call that replaces StandardAuthorizer's data (above).
    private final Object dataLock = new Object();
    // Guarded by dataLock: the broker's config, to merge each policy's super users into.
    private Map<String, ?> configs = Map.of();
    // The policy generation whose super users StandardAuthorizer has; written under dataLock.
    private volatile long appliedGeneration = -1;
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
        synchronized (dataLock) {
            this.configs = Map.copyOf(configs);
            applySuperUsers(policy.snapshot());
        }
    }

    // Holds dataLock.
    private void applySuperUsers(PolicySource.Snapshot snapshot) {
        Map<String, Object> merged = new HashMap<>(configs);
        merged.put(
                SUPER_USERS_CONFIG,
                mergeSuperUsers(
                        (String) configs.get(SUPER_USERS_CONFIG), snapshot.policy().superUsers()));
        super.configure(merged);
        appliedGeneration = snapshot.generation();
    }

    /**
     * `super.users` ("User:a;User:b", as Kafka splits it) with the policy's super users appended,
     * each once, in order.
     */
    static String mergeSuperUsers(String configured, List<String> fromPolicy) {
        Set<String> users = new LinkedHashSet<>();
        if (configured != null) {
            for (String user : configured.split(";")) {
                if (!user.trim().isEmpty()) {
                    users.add(user.trim());
                }
            }
        }
        users.addAll(fromPolicy);
        return String.join(";", users);
    }

    // StandardAuthorizer's other writers of its data, serialised with the
    // reconfiguration above.

    @Override
    public void addAcl(Uuid id, StandardAcl acl) {
        synchronized (dataLock) {
            super.addAcl(id, acl);
        }
    }

    @Override
    public void removeAcl(Uuid id) {
        synchronized (dataLock) {
            super.removeAcl(id);
        }
    }

    @Override
    public void loadSnapshot(Map<Uuid, StandardAcl> acls) {
        synchronized (dataLock) {
            super.loadSnapshot(acls);
        }
    }

    @Override
    public void setAclMutator(AclMutator aclMutator) {
        synchronized (dataLock) {
            super.setAclMutator(aclMutator);
        }
    }

    @Override
    public void completeInitialLoad() {
        synchronized (dataLock) {
            super.completeInitialLoad();
        }
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
        PolicySource.Snapshot snapshot = policy.snapshot();
        if (snapshot.generation() != appliedGeneration) {
            synchronized (dataLock) {
                if (snapshot.generation() > appliedGeneration) {
                    applySuperUsers(snapshot);
                }
            }
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
        metrics.addMetric(
                metrics.metricName(
                        "policy-reloads",
                        "Changes to the Mayfly policy file that loaded",
                        new LinkedHashMap<>()),
                (Gauge<Long>) (config, nowMs) -> policy.reloads());
        metrics.addMetric(
                metrics.metricName(
                        "svid-not-after-seconds",
                        "Unix time at which the soonest SVID this broker serves expires (NaN"
                                + " without the Mayfly SslEngineFactory)",
                        new LinkedHashMap<>()),
                (Gauge<Double>)
                        (config, nowMs) -> seconds(ServedSvids.jvm().earliestSvidNotAfter()));
        metrics.addMetric(
                metrics.metricName(
                        "bundle-root-not-after-seconds",
                        "Unix time at which the first root of the trust bundle this broker"
                                + " serves expires (NaN without the Mayfly SslEngineFactory)",
                        new LinkedHashMap<>()),
                (Gauge<Double>)
                        (config, nowMs) -> seconds(ServedSvids.jvm().earliestBundleRootNotAfter()));
        metrics.addMetric(
                metrics.metricName(
                        "svid-refusals",
                        "SVID versions the broker refused to serve (the last good one kept"
                                + " serving)",
                        new LinkedHashMap<>()),
                (Gauge<Long>) (config, nowMs) -> ServedSvids.jvm().refusals());
    }

    private static double seconds(Optional<Instant> time) {
        return time.map(t -> t.getEpochSecond() + t.getNano() / 1e9).orElse(Double.NaN);
    }
}
