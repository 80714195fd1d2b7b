// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// "User:{ns}.{sa}": TYPE ":" NAME, where TYPE is ASCII letters and NAME is
// literal text and "{capture}" references; a port of bridge/policy_rule.cc
// (Parse, Expand, CanProduce and CheckPrincipal). Immutable.
package dev.mayfly.kafka.policy;

import dev.mayfly.kafka.spiffe.Escaping;
import dev.mayfly.kafka.spiffe.SpiffeId;

import java.util.ArrayList;
import java.util.List;

final class PrincipalTemplate {
    /** The principal name Kafka matches against every principal ("User:*"). */
    static final String WILDCARD_NAME = "*";

    /** A literal piece, or a capture taking ID segment `segment`. */
    private record Piece(boolean isCapture, String literal, int segment) {}

    private final List<Piece> pieces;

    private PrincipalTemplate(List<Piece> pieces) {
        this.pieces = pieces;
    }

    static PrincipalTemplate parse(String text, RulePattern pattern) throws RulePattern.Invalid {
        checkPrincipal(text);
        List<Piece> pieces = new ArrayList<>();
        List<Integer> used = new ArrayList<>();
        for (int i = 0; i < text.length(); ) {
            if (text.charAt(i) == '}') {
                throw invalid("'}' without its '{'", text);
            }
            if (text.charAt(i) != '{') {
                int stop = firstBrace(text, i);
                if (stop < 0) {
                    stop = text.length();
                }
                pieces.add(new Piece(false, text.substring(i, stop), -1));
                i = stop;
                continue;
            }
            int close = firstBrace(text, i + 1);
            if (close < 0 || text.charAt(close) != '}') {
                throw invalid("'{' without its '}'", text);
            }
            String name = text.substring(i + 1, close);
            int segment = pattern.captureIndex(name);
            if (name.isEmpty() || segment < 0) {
                List<String> names = pattern.captureNames();
                throw invalid(
                        "{"
                                + name
                                + "} is not a capture of the id pattern (its captures: "
                                + (names.isEmpty() ? "none" : String.join(", ", names))
                                + ")",
                        text);
            }
            if (used.contains(segment)) {
                throw invalid("{" + name + "} is used twice", text);
            }
            used.add(segment);
            pieces.add(new Piece(true, "", segment));
            i = close + 1;
        }
        return new PrincipalTemplate(List.copyOf(pieces));
    }

    private static int firstBrace(String text, int from) {
        for (int i = from; i < text.length(); i++) {
            if (text.charAt(i) == '{' || text.charAt(i) == '}') {
                return i;
            }
        }
        return -1;
    }

    private static RulePattern.Invalid invalid(String why, String text) {
        return new RulePattern.Invalid(why + ": \"" + Escaping.cHexEscape(text) + "\"");
    }

    /** The principal for an ID the rule's pattern matched; `segments` are the ID's. */
    String expand(List<String> segments) {
        StringBuilder out = new StringBuilder();
        for (Piece piece : pieces) {
            out.append(piece.isCapture() ? segments.get(piece.segment()) : piece.literal());
        }
        return out.toString();
    }

    /**
     * Whether expand can return `principal` for some ID: literal text must match exactly, each
     * capture stands for one whole segment.
     */
    boolean canProduce(String principal) {
        // Captures together hold at most one whole ID; the bound keeps the memo small.
        int literalSize = 0;
        for (Piece piece : pieces) {
            literalSize += piece.literal().length();
        }
        if (principal.length() > literalSize + SpiffeId.MAX_LENGTH) {
            return false;
        }
        // memo[piece * (n + 1) + pos]: 0 not yet known, 1 yes, -1 no.
        byte[] memo = new byte[pieces.size() * (principal.length() + 1)];
        return produceFrom(0, 0, principal, memo);
    }

    private boolean produceFrom(int piece, int pos, String principal, byte[] memo) {
        if (piece == pieces.size()) {
            return pos == principal.length();
        }
        int slot = piece * (principal.length() + 1) + pos;
        if (memo[slot] != 0) {
            return memo[slot] > 0;
        }
        boolean result = false;
        Piece p = pieces.get(piece);
        if (!p.isCapture()) {
            result =
                    principal.startsWith(p.literal(), pos)
                            && produceFrom(piece + 1, pos + p.literal().length(), principal, memo);
        } else {
            // A capture took one whole segment: try every end of such a run.
            for (int end = pos + 1;
                    !result
                            && end <= principal.length()
                            && isSegmentChar(principal.charAt(end - 1));
                    end++) {
                String segment = principal.substring(pos, end);
                if (segment.equals(".") || segment.equals("..")) {
                    continue;
                }
                result = produceFrom(piece + 1, end, principal, memo);
            }
        }
        memo[slot] = (byte) (result ? 1 : -1);
        return result;
    }

    static boolean isSegmentChar(char c) {
        return (c >= 'a' && c <= 'z')
                || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9')
                || c == '.'
                || c == '-'
                || c == '_';
    }

    /** "Type:Name" as Kafka reads a principal; no control characters. */
    static void checkPrincipal(String principal) throws RulePattern.Invalid {
        int colon = principal.indexOf(':');
        String quoted = "\"" + Escaping.cHexEscape(principal) + "\"";
        if (colon <= 0 || colon + 1 == principal.length()) {
            throw new RulePattern.Invalid(
                    quoted + " is not a principal: want TYPE:NAME, like User:orders");
        }
        for (int i = 0; i < colon; i++) {
            char c = principal.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
                throw new RulePattern.Invalid(
                        quoted + ": a principal's TYPE is letters, like User");
            }
        }
        for (int i = 0; i < principal.length(); i++) {
            char c = principal.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                throw new RulePattern.Invalid(quoted + ": control characters are not allowed");
            }
        }
        // Kafka reads the name "*" as every principal (AclEntry's wildcard): a
        // policy that owned it could grant to, or plan away the ACLs of, everyone.
        if (principal.substring(colon + 1).equals(WILDCARD_NAME)) {
            throw new RulePattern.Invalid(
                    quoted
                            + ": \"*\" is Kafka's wildcard principal (every user); name"
                            + " principals one by one");
        }
    }
}
