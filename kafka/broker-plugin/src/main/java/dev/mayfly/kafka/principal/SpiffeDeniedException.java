// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Thrown by the principal builder when the peer certificate gives no
// principal: not an X.509-SVID, or an ID the policy denies (invalid_id,
// foreign_trust_domain, unmapped). The broker closes the connection at its
// first request. No stack trace: the broker logs the exception it closes a
// connection on, and the message says all there is to say.
package dev.mayfly.kafka.principal;

import org.apache.kafka.common.errors.AuthenticationException;

public final class SpiffeDeniedException extends AuthenticationException {
    private static final long serialVersionUID = 1L;

    public SpiffeDeniedException(String message) {
        super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
