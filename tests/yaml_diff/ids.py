#!/usr/bin/env python3
"""Generates SPIFFE IDs for the mapping half of the differential test.

Usage: ids.py COUNT SEED > FILE. One ID a line, UTF-8, deterministic for a
SEED. Most are near misses of the rules of the seed policies
(bridge/testdata/mapping_policy.yaml and the YAML vectors): their trust
domains and segments, a case, a character, a segment or a slash away; some
break one SPIFFE ID rule; some sit at the 2048-byte limit. No line holds
'\\n' or '\\r' (the file is split on them) or a lone surrogate.
"""
import random
import sys

TRUST_DOMAINS = ["prod.acme", "staging.acme", "PROD.acme", "prod.acme.evil",
                 "xprod.acme", "prod-acme", "prod_acme", "evil.acme", "acme",
                 "prod.acme:443", "user@prod.acme", "pr%6fd.acme", ""]
SEGMENTS = ["ns", "sa", "payments", "admin", "kafka", "broker", "team", "x",
            "y", "region", "eu", "svc", "s", "groups", "g", "orders",
            "writer", "a", "b", "Admin", "NS", ".", "..", "...", ".a", "a.",
            "", "*", "**", "{ns}", "caf\u00e9", "%41", "a b", "a?b", "a#b",
            "a:b", "a\u2028b", "a\u0085b", "\ufeffa", "a\tb", "a\\b", "-",
            "_", "0", "9" * 64, "a" * 65]


# The shapes of the seed policy's rules; "?" is a segment drawn at random.
SHAPES = [["ns", "?", "sa", "?"], ["ns", "payments", "sa", "admin"],
          ["kafka", "broker"], ["team", "?", "?"], ["team", "?"],
          ["region", "?", "svc", "?"], ["groups", "?"], []]


def one(rng):
    roll = rng.random()
    if roll < 0.5:
        td = rng.choice(TRUST_DOMAINS[:2]) if rng.random() < 0.9 else rng.choice(TRUST_DOMAINS)
        segs = [rng.choice(SEGMENTS) if x == "?" else x for x in rng.choice(SHAPES)]
        if segs and rng.random() < 0.3:  # one segment off by a case or a character
            i = rng.randrange(len(segs))
            segs[i] = rng.choice([segs[i].upper(), segs[i] + "x", segs[i][:-1],
                                  rng.choice(SEGMENTS)])
        return "spiffe://" + td + "".join("/" + x for x in segs)
    td = rng.choice(TRUST_DOMAINS[:2]) if roll < 0.7 else rng.choice(TRUST_DOMAINS)
    n = rng.choice([0, 1, 2, 3, 4, 4, 4, 5, 6])
    common = SEGMENTS[:20]
    segs = [rng.choice(common if rng.random() < 0.8 else SEGMENTS) for _ in range(n)]
    scheme = "spiffe://" if rng.random() < 0.95 else rng.choice(
        ["SPIFFE://", "spiffe:/", "https://", "spiffe:///", ""])
    s = scheme + td + "".join("/" + x for x in segs)
    tail = rng.random()
    if tail < 0.05:
        s += "/"
    elif tail < 0.08:
        s += rng.choice(["?q", "#f", "/?", "%2F"])
    return s


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    out = set()
    # At the length limit: 2048 bytes maps if a rule takes it, 2049 is too long.
    base = "spiffe://prod.acme/team/t/"
    out.add(base + "a" * (2048 - len(base)))
    out.add(base + "a" * (2049 - len(base)))
    out.add(base + "\u00e9" + "a" * (2047 - len(base)))
    while len(out) < count:
        out.add(one(rng))
    sys.stdout.write("".join(i + "\n" for i in sorted(out)))


if __name__ == "__main__":
    main()
