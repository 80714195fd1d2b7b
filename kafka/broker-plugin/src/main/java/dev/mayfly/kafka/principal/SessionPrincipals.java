// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The principal each live TLS connection was first given, so the principal
// builder can tell when a reloaded policy gives that connection another one.
//
// Keyed by the SSLSession object, by identity, held weakly: Kafka makes a
// new SslAuthenticationContext for every request, and the session is the
// only thing in it that belongs to one connection. SSLSession.putValue is
// no substitute: the JDK shares a session's values with the copies it makes
// for resumption (SSLSessionImpl(base, newId) keeps base.boundValues), so a
// value would leak into later connections. With TLS 1.3 every connection,
// resumed or not, has its own session object; with TLS 1.2 a resumed
// connection shares its session object with the first, and so its entry,
// which is why the builder invalidates a session whose principal changed.
// This needs SSLEngine.getSession() to return one object for the life of
// a connection, as the JDK's engine does and ExpiryEnforcingEngine passes
// through; a wrapper that made a new session object per call would make
// every request look like a new connection (no remap would close it). An
// entry goes when its session is collected.
//
// Thread-safe: a ConcurrentHashMap; stale entries are purged on insert.
package dev.mayfly.kafka.principal;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.concurrent.ConcurrentHashMap;

import javax.net.ssl.SSLSession;

final class SessionPrincipals {
    private final ConcurrentHashMap<Object, String> principals = new ConcurrentHashMap<>();
    private final ReferenceQueue<SSLSession> collected = new ReferenceQueue<>();

    /** The principal first recorded for `session`, recording `principal` if there was none. */
    String firstOrRecord(SSLSession session, String principal) {
        String first = principals.get(new Lookup(session));
        if (first != null) {
            return first;
        }
        purge();
        first = principals.putIfAbsent(new WeakKey(session, collected), principal);
        return first != null ? first : principal;
    }

    /** The principal recorded for `session`, or null. */
    String recorded(SSLSession session) {
        return principals.get(new Lookup(session));
    }

    private void purge() {
        for (Object key; (key = collected.poll()) != null; ) {
            principals.remove(key);
        }
    }

    // The session a key stands for; null once collected.
    private interface SessionKey {
        SSLSession session();
    }

    private static boolean sameSession(SessionKey a, Object b) {
        if (a == b) {
            return true;
        }
        if (!(b instanceof SessionKey other)) {
            return false;
        }
        SSLSession s = a.session();
        return s != null && s == other.session();
    }

    private static final class WeakKey extends WeakReference<SSLSession> implements SessionKey {
        private final int hash;

        WeakKey(SSLSession session, ReferenceQueue<SSLSession> queue) {
            super(session, queue);
            this.hash = System.identityHashCode(session);
        }

        @Override
        public SSLSession session() {
            return get();
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            return sameSession(this, o);
        }
    }

    // A strong key for lookups only; never stored.
    private record Lookup(SSLSession session) implements SessionKey {
        @Override
        public int hashCode() {
            return System.identityHashCode(session);
        }

        @Override
        public boolean equals(Object o) {
            return sameSession(this, o);
        }
    }
}
