// Kafka's `ssl.engine.factory.class` on SPIFFE X.509-SVIDs, for brokers
// (every listener, inter-broker and controller connections) and Java clients
// alike. The key and chain come from a directory kept current by
// `mayfly watch x509 --write`; each new engine first checks ..data (one
// readlink) and, if it moved, builds a new SSLContext from the new set, so
// every handshake uses the newest SVID and bundle with no restart and no
// dynamic-config call. Peers are checked by SpiffeTrustManager; a server
// engine requires a client certificate, and closes the connection at the
// first read after that certificate's NotAfter (ExpiryEnforcingEngine). Of Kafka's own ssl.*
// settings only
// ssl.enabled.protocols and ssl.cipher.suites apply (no keystore, truststore
// or hostname check: the SVID directory and SPIFFE IDs replace them).
// Threads: configure() runs once, before any other call (Kafka's SslFactory
// publishes the factory after it); the engine and keystore calls may then
// come from any thread at once (SvidDirectory serialises reloads). A server
// engine requires a client certificate whatever ssl.client.auth says.
package dev.mayfly.kafka.ssl;

import dev.mayfly.kafka.policy.MapResult;
import dev.mayfly.kafka.policy.PolicyConfig;
import dev.mayfly.kafka.policy.PolicySource;
import dev.mayfly.kafka.spiffe.InvalidSpiffeIdException;
import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.spiffe.TrustDomain;

import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.security.auth.SslEngineFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;

/** An SslEngineFactory whose identity and trust follow a rotating SVID directory. */
public class SvidSslEngineFactory implements SslEngineFactory {
    /** Directory kept by `mayfly watch x509 --write` (holds ..data). Required. */
    public static final String SVID_DIR_CONFIG = "mayfly.svid.dir";

    /**
     * Comma-separated trust domains a peer's SPIFFE ID must be in (as TrustDomain.fromString reads
     * them: a name, or a SPIFFE ID for its trust domain). Required.
     */
    public static final String TRUST_DOMAINS_CONFIG = "mayfly.trust.domains";

    /** Optional comma-separated SPIFFE IDs; if set, a peer must have one of them. */
    public static final String PEER_SPIFFE_IDS_CONFIG = "mayfly.peer.spiffe.ids";

    /**
     * Optional: the Mayfly policy (the principal builder's setting). When set, a server engine
     * refuses at the handshake a client whose SPIFFE ID the policy denies, and names the principal
     * of a connection closed at expiry in the log.
     */
    public static final String POLICY_FILE_CONFIG = PolicyConfig.POLICY_FILE_CONFIG;

    private static final Logger log = LoggerFactory.getLogger(SvidSslEngineFactory.class);
    // Certificates whose enforced close was logged; bounded, oldest forgotten.
    private static final int MAX_LOGGED_CERTIFICATES = 10_000;

    // Alias of the SVID in keystore(); Kafka only reads entries, not names.
    static final String KEY_ALIAS = "svid";
    // In-memory keystores need a password object; nothing is ever written out.
    private static final char[] NO_PASSWORD = new char[0];

    private String svidDir;
    private String trustDomainsValue;
    private String peerIdsValue;
    private String[] enabledProtocols; // null: the JDK's defaults
    private String[] cipherSuites; // null: the JDK's defaults
    private Set<TrustDomain> trustDomains;
    private Set<SpiffeId> peerIds;
    private SvidDirectory<Material> directory;
    // The broker's shared, reloading policy (PolicySource), or null: no client
    // refused by policy; closes logged without a principal.
    private PolicySource policy;
    private final Clock clock;
    // What was logged, once per certificate. Shared by every instance in the
    // JVM: the broker makes a factory per listener and network thread, and a
    // client retries through any of them.
    private static final LoggedOnce SHARED_CLOSES = new LoggedOnce();
    private static final LoggedOnce SHARED_REFUSALS = new LoggedOnce();
    private final LoggedOnce loggedCloses;
    private final LoggedOnce loggedRefusals;

    /** A bounded set of certificates already logged, oldest forgotten first. Thread-safe. */
    static final class LoggedOnce {
        private final Map<X509Certificate, Boolean> seen =
                new LinkedHashMap<>(16, 0.75f, false) {
                    private static final long serialVersionUID = 1L;

                    @Override
                    protected boolean removeEldestEntry(
                            Map.Entry<X509Certificate, Boolean> eldest) {
                        return size() > MAX_LOGGED_CERTIFICATES;
                    }
                };

        /** Whether {@code leaf} is new here (and now remembered). */
        synchronized boolean first(X509Certificate leaf) {
            return seen.put(leaf, Boolean.TRUE) == null;
        }
    }

    /** Used by Kafka, which instantiates the class by name. */
    public SvidSslEngineFactory() {
        this(Clock.systemUTC(), SHARED_CLOSES, SHARED_REFUSALS);
    }

    /** For tests: the clock expiry is enforced by, and logs of their own. */
    SvidSslEngineFactory(Clock clock) {
        this(clock, new LoggedOnce(), new LoggedOnce());
    }

    private SvidSslEngineFactory(Clock clock, LoggedOnce closes, LoggedOnce refusals) {
        this.clock = clock;
        this.loggedCloses = closes;
        this.loggedRefusals = refusals;
    }

    /** What one SVID set turns into: the context engines come from, and Kafka's views of it. */
    static final class Material {
        final SSLContext context;
        final KeyStore keystore;
        final KeyStore truststore;

        Material(SSLContext context, KeyStore keystore, KeyStore truststore) {
            this.context = context;
            this.keystore = keystore;
            this.truststore = truststore;
        }
    }

    @Override
    public void configure(Map<String, ?> configs) {
        svidDir = required(configs, SVID_DIR_CONFIG);
        trustDomainsValue = required(configs, TRUST_DOMAINS_CONFIG);
        peerIdsValue = optional(configs, PEER_SPIFFE_IDS_CONFIG);
        trustDomains = new LinkedHashSet<>();
        for (String td : split(trustDomainsValue)) {
            try {
                trustDomains.add(TrustDomain.fromString(td));
            } catch (InvalidSpiffeIdException e) {
                throw new ConfigException(TRUST_DOMAINS_CONFIG, trustDomainsValue, e.getMessage());
            }
        }
        if (trustDomains.isEmpty()) {
            throw new ConfigException(
                    TRUST_DOMAINS_CONFIG, trustDomainsValue, "names no trust domain");
        }
        peerIds = new LinkedHashSet<>();
        for (String id : split(peerIdsValue)) {
            SpiffeId parsed;
            try {
                parsed = SpiffeId.fromString(id);
            } catch (InvalidSpiffeIdException e) {
                throw new ConfigException(PEER_SPIFFE_IDS_CONFIG, peerIdsValue, e.getMessage());
            }
            if (!trustDomains.contains(parsed.trustDomain())) {
                throw new ConfigException(
                        PEER_SPIFFE_IDS_CONFIG,
                        peerIdsValue,
                        id + " is not in " + TRUST_DOMAINS_CONFIG + " (" + trustDomainsValue + ")");
            }
            peerIds.add(parsed);
        }
        policy = PolicyConfig.optional(configs);
        // Kafka's own TLS settings that still apply to SVIDs, as
        // DefaultSslEngineFactory applies them.
        enabledProtocols = list(configs.get(SslConfigs.SSL_ENABLED_PROTOCOLS_CONFIG));
        cipherSuites = list(configs.get(SslConfigs.SSL_CIPHER_SUITES_CONFIG));
        Path dir = Paths.get(svidDir);
        try {
            directory = SvidDirectory.open(dir, this::build);
        } catch (SvidSet.LoadException e) {
            throw new ConfigException(
                    SVID_DIR_CONFIG, svidDir, "no usable SVID: " + e.getMessage());
        }
    }

    private Material build(SvidSet set) throws SvidSet.LoadException {
        try {
            KeyStore keystore = KeyStore.getInstance("PKCS12");
            keystore.load(null, null);
            keystore.setKeyEntry(
                    KEY_ALIAS, set.key(), NO_PASSWORD, set.chain().toArray(new X509Certificate[0]));
            KeyStore truststore = KeyStore.getInstance("PKCS12");
            truststore.load(null, null);
            int i = 0;
            for (X509Certificate root : set.bundle()) {
                truststore.setCertificateEntry("root-" + i++, root);
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
            kmf.init(keystore, NO_PASSWORD);
            SpiffeTrustManager tm =
                    new SpiffeTrustManager(
                            set.bundle(),
                            trustDomains,
                            peerIds,
                            policy == null ? null : this::clientRefusal);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), new TrustManager[] {tm}, null);
            return new Material(context, keystore, truststore);
        } catch (GeneralSecurityException | IOException | IllegalArgumentException e) {
            throw new SvidSet.LoadException(
                    "cannot build a TLS context from version " + set.version() + ": " + e);
        }
    }

    // endpointIdentification is ignored on purpose: an SVID names a workload by
    // its SPIFFE ID, not a host; the trust manager checks the ID instead.
    @Override
    public SSLEngine createClientSslEngine(
            String peerHost, int peerPort, String endpointIdentification) {
        SSLEngine engine = newEngine(peerHost, peerPort);
        engine.setUseClientMode(true);
        return engine;
    }

    @Override
    public SSLEngine createServerSslEngine(String peerHost, int peerPort) {
        SSLEngine engine = newEngine(peerHost, peerPort);
        engine.setUseClientMode(false);
        engine.setNeedClientAuth(true);
        return new ExpiryEnforcingEngine(engine, clock, this::logClose);
    }

    // A client the policy denies is refused at the handshake: Kafka then logs
    // one INFO line ("Failed authentication ... SSL handshake failed") per
    // attempt, where a refusal by the principal builder after the handshake
    // is logged at ERROR with a stack trace. The reason is logged here, once
    // per certificate, at WARN.
    String clientRefusal(SpiffeId id, X509Certificate leaf) {
        MapResult result = policy.current().map(id);
        if (result.isMapped()) {
            return null;
        }
        String refusal =
                "SPIFFE ID "
                        + id
                        + " is denied by the policy: "
                        + result.denial().policyName()
                        + " ("
                        + result.detail()
                        + ")";
        if (loggedRefusals.first(leaf)) {
            log.warn("refusing a client at the handshake: {}", refusal);
        }
        return refusal;
    }

    // Once per certificate: the principal (when a policy is configured), the
    // SPIFFE ID and the expiry, without a stack trace. Whether it logged.
    boolean logClose(X509Certificate leaf, Instant now, String peer) {
        if (!loggedCloses.first(leaf)) {
            return false;
        }
        String id;
        try {
            id = SpiffeTrustManager.spiffeIdOf(leaf).toString();
        } catch (CertificateException e) {
            id = "no SPIFFE ID: " + e.getMessage();
        }
        String principal = "an unknown principal";
        if (policy != null) {
            try {
                MapResult result = policy.current().map(SpiffeId.fromString(id));
                principal = result.isMapped() ? result.principal().get() : "an unmapped ID";
            } catch (InvalidSpiffeIdException e) {
                principal = "an invalid ID";
            }
        }
        log.warn(
                "closing the connection of {} ({}): its SVID expired at {} (now {}, client {})",
                principal,
                id,
                leaf.getNotAfter().toInstant(),
                now,
                peer);
        return true;
    }

    private SSLEngine newEngine(String peerHost, int peerPort) {
        SSLEngine engine = directory.refresh().context.createSSLEngine(peerHost, peerPort);
        if (enabledProtocols != null) {
            engine.setEnabledProtocols(enabledProtocols);
        }
        if (cipherSuites != null) {
            engine.setEnabledCipherSuites(cipherSuites);
        }
        return engine;
    }

    // Rotation needs no rebuild (each engine reloads); only a change of our own
    // settings does.
    @Override
    public boolean shouldBeRebuilt(Map<String, Object> nextConfigs) {
        return !Objects.equals(svidDir, optional(nextConfigs, SVID_DIR_CONFIG))
                || !Objects.equals(trustDomainsValue, optional(nextConfigs, TRUST_DOMAINS_CONFIG))
                || !Objects.equals(peerIdsValue, optional(nextConfigs, PEER_SPIFFE_IDS_CONFIG));
    }

    @Override
    public Set<String> reconfigurableConfigs() {
        return Set.of();
    }

    /** The current SVID as a keystore (one key entry, alias "svid"). */
    @Override
    public KeyStore keystore() {
        return directory.refresh().keystore;
    }

    /** The current bundle's roots as trusted-certificate entries. */
    @Override
    public KeyStore truststore() {
        return directory.refresh().truststore;
    }

    /** The shared policy this factory uses, or null (for tests). */
    PolicySource policySource() {
        return policy;
    }

    /** The SVID set the newest engines use (for tests and diagnostics). */
    SvidSet currentSvid() {
        directory.refresh();
        return directory.currentSet();
    }

    @Override
    public void close() {
        // Nothing to release: no thread, no open file.
    }

    private static String required(Map<String, ?> configs, String name) {
        String v = optional(configs, name);
        if (v == null || v.isEmpty()) {
            throw new ConfigException(
                    name, v, "is required by " + SvidSslEngineFactory.class.getName());
        }
        return v;
    }

    private static String optional(Map<String, ?> configs, String name) {
        Object v = configs.get(name);
        return v == null ? null : v.toString().trim();
    }

    // A list setting as Kafka passes it (parsed List, or a raw comma string);
    // null when unset or empty.
    private static String[] list(Object value) {
        Set<String> items = new LinkedHashSet<>();
        if (value instanceof List) {
            for (Object o : (List<?>) value) {
                items.addAll(split(String.valueOf(o)));
            }
        } else if (value != null) {
            items.addAll(split(value.toString()));
        }
        return items.isEmpty() ? null : items.toArray(new String[0]);
    }

    private static Set<String> split(String value) {
        Set<String> out = new LinkedHashSet<>();
        if (value != null) {
            Arrays.stream(value.split(","))
                    .map(String::trim)
                    .filter(s -> !s.isEmpty())
                    .forEach(out::add);
        }
        return out;
    }
}
