// A SPIFFE ID parsed and checked by the rules of the SPIFFE ID spec
// (SPIFFE-ID.md, section 2), for the peer checks of the engine factory.
// Each rejection quotes the rule that was broken and the input.
package dev.mayfly.kafka.ssl;

import java.util.Objects;

/** An immutable, valid SPIFFE ID: {@code spiffe://TRUST_DOMAIN[/SEGMENT...]}. */
public final class SpiffeId {
    static final String SCHEME_PREFIX = "spiffe://";
    // SPIFFE-ID.md 2.3: a URI SAN longer than this SHOULD NOT be accepted.
    static final int MAX_ID_LENGTH = 2048;
    // SPIFFE-ID.md 2.1: a trust domain is a DNS-style name, at most 255 bytes.
    static final int MAX_TRUST_DOMAIN_LENGTH = 255;

    private final String trustDomain;
    private final String path;

    private SpiffeId(String trustDomain, String path) {
        this.trustDomain = trustDomain;
        this.path = path;
    }

    /** Parses {@code id}; throws IllegalArgumentException naming the broken rule. */
    public static SpiffeId parse(String id) {
        if (id == null || id.isEmpty()) {
            throw new IllegalArgumentException("SPIFFE ID is empty");
        }
        if (id.length() > MAX_ID_LENGTH) {
            throw new IllegalArgumentException("SPIFFE ID is longer than " + MAX_ID_LENGTH + " bytes");
        }
        if (!id.startsWith(SCHEME_PREFIX)) {
            throw new IllegalArgumentException("SPIFFE ID must start with spiffe:// (lowercase): \"" + id + "\"");
        }
        String rest = id.substring(SCHEME_PREFIX.length());
        int slash = rest.indexOf('/');
        String td = slash < 0 ? rest : rest.substring(0, slash);
        String path = slash < 0 ? "" : rest.substring(slash);
        checkTrustDomain(td, id);
        checkPath(path, id);
        return new SpiffeId(td, path);
    }

    /** Checks a bare trust domain name (as configured in mayfly.trust.domains). */
    public static String checkTrustDomain(String td, String input) {
        if (td.isEmpty()) {
            throw new IllegalArgumentException("trust domain is empty: \"" + input + "\"");
        }
        if (td.length() > MAX_TRUST_DOMAIN_LENGTH) {
            throw new IllegalArgumentException("trust domain is longer than " + MAX_TRUST_DOMAIN_LENGTH
                + " bytes: \"" + input + "\"");
        }
        for (int i = 0; i < td.length(); i++) {
            char c = td.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
            if (!ok) {
                throw new IllegalArgumentException("trust domain may hold only [a-z0-9.-_] (no port, user info, "
                    + "query, fragment or uppercase): \"" + input + "\"");
            }
        }
        return td;
    }

    private static void checkPath(String path, String input) {
        if (path.isEmpty()) {
            return;
        }
        // path starts with '/'; split keeps trailing empty segments with limit -1.
        String[] segments = path.substring(1).split("/", -1);
        for (String seg : segments) {
            if (seg.isEmpty()) {
                throw new IllegalArgumentException("path segments must not be empty (no // or trailing /): \""
                    + input + "\"");
            }
            if (seg.equals(".") || seg.equals("..")) {
                throw new IllegalArgumentException("path segments must not be . or ..: \"" + input + "\"");
            }
            for (int i = 0; i < seg.length(); i++) {
                char c = seg.charAt(i);
                boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '-' || c == '_';
                if (!ok) {
                    throw new IllegalArgumentException("path may hold only [a-zA-Z0-9.-_] and /: \"" + input + "\"");
                }
            }
        }
    }

    public String trustDomain() {
        return trustDomain;
    }

    public String path() {
        return path;
    }

    @Override
    public String toString() {
        return SCHEME_PREFIX + trustDomain + path;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SpiffeId && ((SpiffeId) o).trustDomain.equals(trustDomain)
            && ((SpiffeId) o).path.equals(path);
    }

    @Override
    public int hashCode() {
        return Objects.hash(trustDomain, path);
    }
}
