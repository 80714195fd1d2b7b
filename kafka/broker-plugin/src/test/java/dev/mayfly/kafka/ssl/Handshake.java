// An in-memory TLS handshake between two SSLEngines: wrap/unwrap loops over
// byte buffers, delegated tasks run inline, no sockets. Bounded: it gives up
// after a fixed number of rounds.
package dev.mayfly.kafka.ssl;

import java.nio.ByteBuffer;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;

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
