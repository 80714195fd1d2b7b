// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Thrown by the principal builder for a request on a connection whose
// client SVID has expired. The broker closes the connection on it; a client
// that has renewed reconnects with its new SVID. No stack trace is filled
// in: this is an expected event, not a bug, and it happens on a hot path.
package dev.mayfly.kafka.principal;

import org.apache.kafka.common.errors.AuthenticationException;

public final class SvidExpiredException extends AuthenticationException {
    private static final long serialVersionUID = 1L;

    public SvidExpiredException(String message) {
        super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
