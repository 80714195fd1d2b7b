// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// A Kafka principal taken from an X.509-SVID: type and name from the policy
// ("User:orders.writer"), plus the SPIFFE ID it was mapped from and the
// SVID's NotAfter, which the principal builder and the authorizer enforce.
//
// equals/hashCode/toString stay KafkaPrincipal's (class, type and name;
// "User:orders.writer"). That is what ACL matching needs: the KRaft
// StandardAuthorizer (StandardAuthorizerData.baseKafkaPrincipal in 4.4.0)
// turns any subclass into a plain KafkaPrincipal(type, name) before it
// compares with ACLs and super users, so an ACL for User:orders.writer
// matches this principal. Immutable apart from KafkaPrincipal's
// tokenAuthenticated flag.
package dev.mayfly.kafka.principal;

import org.apache.kafka.common.security.auth.KafkaPrincipal;

import java.time.Instant;
import java.util.Objects;

public class SpiffePrincipal extends KafkaPrincipal {
    private final String spiffeId;
    private final Instant notAfter;

    public SpiffePrincipal(String principalType, String name, String spiffeId, Instant notAfter) {
        super(principalType, name);
        this.spiffeId = Objects.requireNonNull(spiffeId, "spiffeId");
        this.notAfter = Objects.requireNonNull(notAfter, "notAfter");
    }

    /** "spiffe://prod.acme/ns/orders/sa/writer". */
    public String spiffeId() {
        return spiffeId;
    }

    /** The SVID's NotAfter: no request is served on it after this instant. */
    public Instant notAfter() {
        return notAfter;
    }

    /** RFC 5280 §4.1.2.5: the SVID is valid up to and including NotAfter. */
    public boolean expiredAt(Instant now) {
        return now.isAfter(notAfter);
    }
}
