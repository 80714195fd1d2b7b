// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// A certificate that is not a usable X.509-SVID leaf; the message names the
// rule, in the words of identity/x509_verify.cc.
package dev.mayfly.kafka.spiffe;

public final class InvalidSvidException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidSvidException(String message) {
        super(message);
    }
}
