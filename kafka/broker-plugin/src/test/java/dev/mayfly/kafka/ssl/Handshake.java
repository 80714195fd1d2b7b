// An in-memory TLS handshake between two SSLEngines: wrap/unwrap loops over
// byte buffers, delegated tasks run inline, no sockets. Bounded: it gives up
// after a fixed number of rounds. With the helpers the tests build on it:
// a handshake between new engines of two factories, one that must fail and
// its reasons, the leaf an engine's peer presented.
package dev.mayfly.kafka.ssl;

import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

final class Handshake {
    // A TLS 1.3 mutual handshake takes a handful of flights; 200 rounds is ample.
    private static final int MAX_ROUNDS = 200;

    private Handshake() {}

    /** Runs the handshake to completion; throws the first engine's SSLException. */
    static void run(SSLEngine client, SSLEngine server) throws SSLException {
        int packet =
                Math.max(
                        client.getSession().getPacketBufferSize(),
                        server.getSession().getPacketBufferSize());
        int app =
                Math.max(
                        client.getSession().getApplicationBufferSize(),
                        server.getSession().getApplicationBufferSize());
        ByteBuffer clientToServer = ByteBuffer.allocate(packet * 4);
        ByteBuffer serverToClient = ByteBuffer.allocate(packet * 4);
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer sink = ByteBuffer.allocate(app * 4);
        client.beginHandshake();
        server.beginHandshake();
        for (int round = 0; round < MAX_ROUNDS; round++) {
            if (done(client) && done(server)) {
                return;
            }
            step(client, empty, clientToServer, serverToClient, sink);
            step(server, empty, serverToClient, clientToServer, sink);
        }
        throw new IllegalStateException(
                "handshake not done after "
                        + MAX_ROUNDS
                        + " rounds: client "
                        + client.getHandshakeStatus()
                        + ", server "
                        + server.getHandshakeStatus());
    }

    /** The two engines of a handshake that completed. */
    record Engines(SSLEngine client, SSLEngine server) {}

    /**
     * Runs a handshake between a new client engine of {@code client} (for 127.0.0.1:9093, no
     * hostname check) and a new server engine of {@code server}.
     */
    static Engines between(SvidSslEngineFactory client, SvidSslEngineFactory server)
            throws SSLException {
        Engines e =
                new Engines(
                        client.createClientSslEngine("127.0.0.1", 9093, null),
                        server.createServerSslEngine("127.0.0.1", 9093));
        run(e.client(), e.server());
        return e;
    }

    /** Runs a handshake that must fail; returns the reasons of its SSLHandshakeException. */
    static String refused(SSLEngine client, SSLEngine server) {
        return reasons(assertThrows(SSLHandshakeException.class, () -> run(client, server)));
    }

    /** {@link #refused(SSLEngine, SSLEngine)} between new engines of two factories. */
    static String refused(SvidSslEngineFactory client, SvidSslEngineFactory server) {
        return refused(
                client.createClientSslEngine("127.0.0.1", 9093, null),
                server.createServerSslEngine("127.0.0.1", 9093));
    }

    /** The messages of {@code t} and its causes, joined, to find the trust manager's reason. */
    static String reasons(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c.getMessage()).append(" | ");
        }
        return sb.toString();
    }

    /** The leaf certificate the peer of {@code e} presented. */
    static X509Certificate peerLeaf(SSLEngine e) throws SSLException {
        return (X509Certificate) e.getSession().getPeerCertificates()[0];
    }

    private static boolean done(SSLEngine e) {
        HandshakeStatus s = e.getHandshakeStatus();
        return s == HandshakeStatus.NOT_HANDSHAKING || s == HandshakeStatus.FINISHED;
    }

    // One turn of one engine: run its tasks, send what it wants to send into
    // `out`, and read what the other side sent from `in`.
    private static void step(
            SSLEngine e, ByteBuffer empty, ByteBuffer out, ByteBuffer in, ByteBuffer sink)
            throws SSLException {
        for (int i = 0; i < MAX_ROUNDS; i++) {
            HandshakeStatus s = e.getHandshakeStatus();
            if (s == HandshakeStatus.NEED_TASK) {
                Runnable task;
                while ((task = e.getDelegatedTask()) != null) {
                    task.run();
                }
            } else if (s == HandshakeStatus.NEED_WRAP) {
                e.wrap(empty, out);
            } else if (s == HandshakeStatus.NEED_UNWRAP || s == HandshakeStatus.NEED_UNWRAP_AGAIN) {
                in.flip();
                boolean hadData = in.hasRemaining();
                var r = e.unwrap(in, sink);
                in.compact();
                sink.clear();
                if (!hadData
                        || r.getStatus() == javax.net.ssl.SSLEngineResult.Status.BUFFER_UNDERFLOW) {
                    return; // wait for the peer
                }
            } else {
                return;
            }
        }
    }
}
