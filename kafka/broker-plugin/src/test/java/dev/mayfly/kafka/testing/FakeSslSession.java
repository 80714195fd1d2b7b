// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// An SSLSession that only knows its peer's certificates and whether it was
// invalidated: what the principal builder uses of SslAuthenticationContext. Built as a dynamic
// proxy so
// any other call fails the test loudly instead of returning a made-up value.
package dev.mayfly.kafka.testing;

import org.apache.kafka.common.security.auth.SslAuthenticationContext;

import java.lang.reflect.Proxy;
import java.net.InetAddress;
import java.security.cert.Certificate;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

public final class FakeSslSession {
    private FakeSslSession() {}

    /** A session whose peer presented `chain`; no chain means no client certificate. */
    public static SSLSession withPeer(Certificate... chain) {
        boolean[] invalidated = {false};
        return (SSLSession)
                Proxy.newProxyInstance(
                        FakeSslSession.class.getClassLoader(),
                        new Class<?>[] {SSLSession.class},
                        (proxy, method, args) -> {
                            switch (method.getName()) {
                                case "getPeerCertificates":
                                    if (chain.length == 0) {
                                        throw new SSLPeerUnverifiedException(
                                                "peer not authenticated");
                                    }
                                    return chain.clone();
                                case "invalidate":
                                    invalidated[0] = true;
                                    return null;
                                case "isValid":
                                    return !invalidated[0];
                                case "hashCode":
                                    return System.identityHashCode(proxy);
                                case "equals":
                                    return proxy == args[0];
                                case "toString":
                                    return "FakeSslSession";
                                default:
                                    throw new UnsupportedOperationException(
                                            "FakeSslSession." + method.getName());
                            }
                        });
    }

    public static SslAuthenticationContext context(Certificate... chain) {
        return context(withPeer(chain));
    }

    /** A request's context on the connection of `session`. */
    public static SslAuthenticationContext context(SSLSession session) {
        return new SslAuthenticationContext(session, InetAddress.getLoopbackAddress(), "SSL");
    }
}
