// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The server-side SSLEngine SvidSslEngineFactory hands the broker: the JDK's
// engine, plus expiry enforcement. Once the handshake is done, every unwrap()
// (each read of client bytes: a request, or the start of one) and every
// wrap() of application data (each write of a response) first checks the
// client certificate's NotAfter; after it, both throw an SSLException and
// the broker closes the connection. So no request is read and no response
// byte is written on an expired SVID (a Fetch long poll that began before
// NotAfter gets no answer after it), and a client that has renewed just
// reconnects with its new one. Only the TLS close (close_notify, which
// carries no application data) still goes out.
//
// What this cannot do: close a connection that stays idle past NotAfter.
// Kafka's network thread touches a channel only when its socket is ready
// (Selector.pollSelectionKeys over the selected keys), when it holds
// buffered bytes, or when connections.max.idle.ms or the connection quota
// evicts it; the engine factory is handed the peer's host and port, never
// the socket (SslFactory.createSslEngine(Socket) passes only those), so a
// plugin has nothing to wake or close. Such a connection serves nothing:
// its next request fails here. docs/kafka.md has the Kafka 4.4.0 source
// lines and the broker-side bound (connections.max.idle.ms).
//
// Why here and not (only) in the principal builder: Kafka's network layer
// treats an IOException on read as a plain disconnect (logged at DEBUG),
// whereas an exception from the principal builder is logged at ERROR with a
// stack trace, twice, for what is a routine event. The close is logged here
// once per certificate, at WARN, without a stack trace, and counted
// (ExpiryEnforcement). The principal builder keeps its own check as a
// backstop for a broker that uses it without this factory.
//
// This relies on broker behaviour that is not a public contract (that the
// broker reads through SSLEngine.unwrap and closes a connection whose read
// fails); tests/kafka/run_e2e case plugin_expiry fails loudly if an upgrade
// loses it. Thread-safety as the JDK engine's: Kafka drives one engine from
// one network thread.
package dev.mayfly.kafka.ssl;

import dev.mayfly.kafka.principal.ExpiryEnforcement;

import java.nio.ByteBuffer;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.function.BiFunction;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

final class ExpiryEnforcingEngine extends SSLEngine {
    /** Says, once per certificate, that a connection was closed for it. */
    interface CloseLog {
        void closed(X509Certificate leaf, Instant now, String peer);
    }

    private final SSLEngine engine;
    private final Clock clock;
    private final CloseLog closeLog;
    // The client certificate's NotAfter, read once the handshake is done.
    private Instant notAfter;
    private X509Certificate leaf;
    private boolean enforced;

    ExpiryEnforcingEngine(SSLEngine engine, Clock clock, CloseLog closeLog) {
        super(engine.getPeerHost(), engine.getPeerPort());
        this.engine = engine;
        this.clock = clock;
        this.closeLog = closeLog;
    }

    @Override
    public SSLEngineResult unwrap(ByteBuffer src, ByteBuffer[] dsts, int offset, int length)
            throws SSLException {
        if (src.hasRemaining()) {
            checkExpiry();
        }
        return engine.unwrap(src, dsts, offset, length);
    }

    private void checkExpiry() throws SSLException {
        if (enforced) {
            throw expired();
        }
        if (notAfter == null) {
            if (engine.getHandshakeStatus() != HandshakeStatus.NOT_HANDSHAKING) {
                return;
            }
            Certificate[] chain;
            try {
                chain = engine.getSession().getPeerCertificates();
            } catch (SSLPeerUnverifiedException e) {
                return; // No client certificate: the principal builder refuses it.
            }
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate)) {
                return;
            }
            leaf = (X509Certificate) chain[0];
            notAfter = leaf.getNotAfter().toInstant();
        }
        Instant now = clock.instant();
        if (now.isAfter(notAfter)) {
            enforced = true;
            ExpiryEnforcement.recordClose();
            closeLog.closed(leaf, now, getPeerHost() + ":" + getPeerPort());
            throw expired();
        }
    }

    // A plain SSLException: Kafka's SslTransportLayer rethrows it as a read
    // failure (not a handshake failure), and the Selector closes quietly.
    private SSLException expired() {
        return new SSLException("client SVID expired at " + notAfter + "; connection closed");
    }

    // Everything else is the JDK engine's.

    // Handshake messages and the close_notify of an expired connection carry
    // no application data and still go out.
    @Override
    public SSLEngineResult wrap(ByteBuffer[] srcs, int offset, int length, ByteBuffer dst)
            throws SSLException {
        for (int i = offset; i < offset + length; i++) {
            if (srcs[i].hasRemaining()) {
                checkExpiry();
                break;
            }
        }
        return engine.wrap(srcs, offset, length, dst);
    }

    @Override
    public Runnable getDelegatedTask() {
        return engine.getDelegatedTask();
    }

    @Override
    public void closeInbound() throws SSLException {
        engine.closeInbound();
    }

    @Override
    public boolean isInboundDone() {
        return engine.isInboundDone();
    }

    @Override
    public void closeOutbound() {
        engine.closeOutbound();
    }

    @Override
    public boolean isOutboundDone() {
        return engine.isOutboundDone();
    }

    @Override
    public String[] getSupportedCipherSuites() {
        return engine.getSupportedCipherSuites();
    }

    @Override
    public String[] getEnabledCipherSuites() {
        return engine.getEnabledCipherSuites();
    }

    @Override
    public void setEnabledCipherSuites(String[] suites) {
        engine.setEnabledCipherSuites(suites);
    }

    @Override
    public String[] getSupportedProtocols() {
        return engine.getSupportedProtocols();
    }

    @Override
    public String[] getEnabledProtocols() {
        return engine.getEnabledProtocols();
    }

    @Override
    public void setEnabledProtocols(String[] protocols) {
        engine.setEnabledProtocols(protocols);
    }

    @Override
    public SSLSession getSession() {
        return engine.getSession();
    }

    @Override
    public SSLSession getHandshakeSession() {
        return engine.getHandshakeSession();
    }

    @Override
    public void beginHandshake() throws SSLException {
        engine.beginHandshake();
    }

    @Override
    public HandshakeStatus getHandshakeStatus() {
        return engine.getHandshakeStatus();
    }

    @Override
    public void setUseClientMode(boolean mode) {
        engine.setUseClientMode(mode);
    }

    @Override
    public boolean getUseClientMode() {
        return engine.getUseClientMode();
    }

    @Override
    public void setNeedClientAuth(boolean need) {
        engine.setNeedClientAuth(need);
    }

    @Override
    public boolean getNeedClientAuth() {
        return engine.getNeedClientAuth();
    }

    @Override
    public void setWantClientAuth(boolean want) {
        engine.setWantClientAuth(want);
    }

    @Override
    public boolean getWantClientAuth() {
        return engine.getWantClientAuth();
    }

    @Override
    public void setEnableSessionCreation(boolean flag) {
        engine.setEnableSessionCreation(flag);
    }

    @Override
    public boolean getEnableSessionCreation() {
        return engine.getEnableSessionCreation();
    }

    @Override
    public SSLParameters getSSLParameters() {
        return engine.getSSLParameters();
    }

    @Override
    public void setSSLParameters(SSLParameters params) {
        engine.setSSLParameters(params);
    }

    @Override
    public String getApplicationProtocol() {
        return engine.getApplicationProtocol();
    }

    @Override
    public String getHandshakeApplicationProtocol() {
        return engine.getHandshakeApplicationProtocol();
    }

    @Override
    public void setHandshakeApplicationProtocolSelector(
            BiFunction<SSLEngine, List<String>, String> selector) {
        engine.setHandshakeApplicationProtocolSelector(selector);
    }

    @Override
    public BiFunction<SSLEngine, List<String>, String> getHandshakeApplicationProtocolSelector() {
        return engine.getHandshakeApplicationProtocolSelector();
    }
}
