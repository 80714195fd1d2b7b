// Kafka's `ssl.engine.factory.class` on SPIFFE X.509-SVIDs, for brokers
// (every listener, inter-broker and controller connections) and Java clients
// alike. The key and chain come from a directory kept current by
// `mayfly watch x509 --write`; each new engine first checks ..data (one
// readlink) and, if it moved, builds a new SSLContext from the new set, so
// every handshake uses the newest SVID and bundle with no restart and no
// dynamic-config call. A new set is used only if its leaf is this
// workload's (mayfly.svid.spiffe.id) and valid now; else the last good one
// stays. Peers are checked by SpiffeTrustManager against the bundle of their
// own trust domain. A client engine accepts only a server whose ID is in
// mayfly.peer.spiffe.ids (required: without it any workload of the trust
// domains could pose as the broker); a server engine requires a client
// certificate, checks clients by trust domain and policy, and serves no
// byte after that certificate's NotAfter (ExpiryEnforcingEngine). Of Kafka's
// own ssl.* settings only ssl.enabled.protocols and ssl.cipher.suites apply
// (no keystore, truststore or hostname check: the SVID directory and SPIFFE
// IDs replace them).
// Threads: configure() runs once, before any other call (Kafka's SslFactory
// publishes the factory after it); the engine and keystore calls may then
// come from any thread at once (SvidDirectory serialises reloads). A server
// engine requires a client certificate whatever ssl.client.auth says.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.Settings.list;
import static dev.mayfly.kafka.ssl.Settings.optional;
import static dev.mayfly.kafka.ssl.Settings.required;
import static dev.mayfly.kafka.ssl.Settings.split;

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

    /**
     * The SPIFFE ID of this workload's own SVID (the broker's, or the Java client's). Required: a
     * version of the SVID directory whose leaf has another ID is not used.
     */
    public static final String SVID_SPIFFE_ID_CONFIG = "mayfly.svid.spiffe.id";

    /**
     * Comma-separated SPIFFE IDs a server this factory connects to must have: the brokers and
     * controllers (a broker's own connections to them, a Java client's). Without it, the policy's
     * {@code brokers} (which follow reloads); with neither, configure() refuses, as the broker's ID
     * is what a client authenticates. Server engines do not apply it (clients are checked by trust
     * domain and by the policy).
     */
    public static final String PEER_SPIFFE_IDS_CONFIG = "mayfly.peer.spiffe.ids";

    /**
     * Optional: the Mayfly policy (the principal builder's setting). When set, a server engine
     * refuses at the handshake a client whose SPIFFE ID the policy denies, and names the principal
     * of a connection closed at expiry in the log.
     */
    public static final String POLICY_FILE_CONFIG = PolicyConfig.POLICY_FILE_CONFIG;

    private static final Logger log = LoggerFactory.getLogger(SvidSslEngineFactory.class);

    // Alias of the SVID in keystore(); Kafka only reads entries, not names.
    static final String KEY_ALIAS = "svid";
    // In-memory keystores need a password object; nothing is ever written out.
    private static final char[] NO_PASSWORD = new char[0];

    private String svidDir;
    private String trustDomainsValue;
    private String peerIdsValue;
    private SpiffeId ownId;
    private String[] enabledProtocols; // null: the JDK's defaults
    private String[] cipherSuites; // null: the JDK's defaults
    private Set<TrustDomain> trustDomains;
    // What a server this factory's client engines reach must be (BrokerPeers).
    private SpiffeTrustManager.PeerCheck serverCheck;
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
        final SSLContext serverContext;
        final SSLContext clientContext;
        final KeyStore keystore;
        final KeyStore truststore;

        Material(
                SSLContext serverContext,
                SSLContext clientContext,
                KeyStore keystore,
                KeyStore truststore) {
            this.serverContext = serverContext;
            this.clientContext = clientContext;
            this.keystore = keystore;
            this.truststore = truststore;
        }
    }

    @Override
    public void configure(Map<String, ?> configs) {
        svidDir = required(configs, SVID_DIR_CONFIG);
        trustDomainsValue = required(configs, TRUST_DOMAINS_CONFIG);
        String ownIdValue = required(configs, SVID_SPIFFE_ID_CONFIG);
        try {
            ownId = SpiffeId.fromString(ownIdValue);
        } catch (InvalidSpiffeIdException e) {
            throw new ConfigException(SVID_SPIFFE_ID_CONFIG, ownIdValue, e.getMessage());
        }
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
        for (TrustDomain td : trustDomains) {
            if (!td.equals(ownId.trustDomain())) {
                // The SVID directory holds the bundle of the SVID's own trust
                // domain only (identity/svid_files.h), so nothing can verify.
                log.warn(
                        "{} lists {}, but {} holds the trust bundle of {} only: peers of {} will"
                                + " be refused",
                        TRUST_DOMAINS_CONFIG,
                        td,
                        SVID_DIR_CONFIG,
                        ownId.trustDomain(),
                        td);
            }
        }
        policy = PolicyConfig.optional(configs);
        serverCheck = BrokerPeers.fromConfig(peerIdsValue, trustDomains, trustDomainsValue, policy);
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
        ServedSvids.jvm().add(directory);
    }

    private Material build(SvidSet set) throws SvidSet.LoadException {
        set.checkUsable(ownId, clock.instant());
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
            Map<TrustDomain, List<X509Certificate>> bundles =
                    Map.of(set.trustDomain(), set.bundle());
            SpiffeTrustManager clients =
                    new SpiffeTrustManager(
                            bundles,
                            trustDomains,
                            null,
                            policy == null ? null : this::clientRefusal);
            SpiffeTrustManager servers =
                    new SpiffeTrustManager(bundles, trustDomains, serverCheck, null);
            SSLContext serverContext = SSLContext.getInstance("TLS");
            serverContext.init(kmf.getKeyManagers(), new TrustManager[] {clients}, null);
            SSLContext clientContext = SSLContext.getInstance("TLS");
            clientContext.init(kmf.getKeyManagers(), new TrustManager[] {servers}, null);
            return new Material(serverContext, clientContext, keystore, truststore);
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
        SSLEngine engine = newEngine(directory.refresh().clientContext, peerHost, peerPort);
        engine.setUseClientMode(true);
        return engine;
    }

    @Override
    public SSLEngine createServerSslEngine(String peerHost, int peerPort) {
        SSLEngine engine = newEngine(directory.refresh().serverContext, peerHost, peerPort);
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

    private SSLEngine newEngine(SSLContext context, String peerHost, int peerPort) {
        SSLEngine engine = context.createSSLEngine(peerHost, peerPort);
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
                || !Objects.equals(ownId.toString(), optional(nextConfigs, SVID_SPIFFE_ID_CONFIG))
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

    /** How many versions of the SVID directory were refused so far (each logged once). */
    long refusedVersions() {
        return directory.refusals();
    }

    @Override
    public void close() {
        // No thread, no open file: only the metrics stop counting this one.
        if (directory != null) {
            ServedSvids.jvm().remove(directory);
        }
    }
}
