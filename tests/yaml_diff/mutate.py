#!/usr/bin/env python3
"""Writes COUNT policy files mutated from SEEDS into OUT, deterministically.

For tests/yaml_differential.sh: each file is a seed policy with one to three
edits aimed at where YAML 1.1 (SnakeYAML) and 1.2 (yaml-cpp) part ways:
line breaks, tags, anchors, merge keys, documents, typed plain scalars,
quoting, flow and block indicators, bad bytes.
"""
import os
import random
import sys

TOKENS = [
    "\u0085", "\u2028", "\u2029", "\t", "\r", "\r\n", "\ufeff", "\u00a0",
    "\u0000", "\u007f", "\u009b", "\ufffe", "\U0001F600", "\u00e9",
    "!!str ", "! ", "!x ", "&a ", "*a", "<<: ", "? ", ": ", "- ", "-",
    "---\n", "...\n", "--- ", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n",
    "~", "null", "NULL", "yes", "No", "on", "OFF", "y", "n", "0777", "0x1F",
    "1:20", "1_000", ".inf", "=", "true", "1e3",
    "#", " #", "\"", "'", "[", "]", "{", "}", ",", "\n", "  ", "    ",
    "\\", "\\N", "\\L", "\\u2028", "\\x85", "\\t", "\\0", "\\ud83d\\ude00",
    "|", ">", "|-", ">+", "|2",
    "User:evil", "super_users: [User:evil]\n", "unmapped: anonymous\n",
    "  - id: spiffe://prod.acme/**\n    principal: User:admin\n",
]
RAW = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x85"]


def mutate(rng, data):
    kind = rng.randrange(7)
    pos = rng.randrange(len(data) + 1)
    if kind == 0 and b"\n" in data:  # at the start of a line
        starts = [0] + [i + 1 for i, c in enumerate(data) if c == 0x0A]
        pos = rng.choice(starts)
    if kind <= 2:
        return data[:pos] + rng.choice(TOKENS).encode("utf-8", "surrogatepass") + data[pos:]
    if kind == 3:
        return data[:pos] + rng.choice(RAW) + data[pos:]
    if kind == 4:  # delete a short span
        return data[:pos] + data[pos + rng.randrange(1, 12):]
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    if kind == 5:  # a line twice
        return b"\n".join(lines[: i + 1] + [lines[i]] + lines[i + 1:])
    j = rng.randrange(len(lines))  # two lines swapped
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def main():
    out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    seeds = [open(p, "rb").read() for p in sys.argv[4:]]
    rng = random.Random(seed)
    for n in range(count):
        data = rng.choice(seeds)
        for _ in range(rng.randrange(1, 4)):
            data = mutate(rng, data)
        with open(os.path.join(out, "m%04d.yaml" % n), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
