#!/usr/bin/env python3
"""Compares two policy dumps (bridge/policy_dump.h), file by file.

Usage: compare.py CXX_DUMP JAVA_DUMP. Exit 1 on any difference, listing
each. Two errors agree when equal, or when either is a YAML syntax error
("SOURCE:LINE: not valid YAML: ..."): yaml-cpp and SnakeYAML word those
differently and find them at different places (yaml-cpp reads events as it
goes, so a strict-subset error before its syntax error speaks first), and
both refuse. A file one side loads and the other refuses, or that both load
to different policies, is always a difference.
"""
import sys


def read(path):
    out, name = {}, None
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if line.startswith("== "):
                name = line[3:].rstrip("\n")
                out[name] = ""
            else:
                out[name] += line
    return out


def syntax_error(dump):
    return dump.startswith("error: ") and ": not valid YAML: " in dump


def main():
    cxx, java = read(sys.argv[1]), read(sys.argv[2])
    differ, syntax, loaded = [], 0, 0
    for name in sorted(set(cxx) | set(java)):
        a, b = cxx.get(name), java.get(name)
        if a is not None and not a.startswith("error: "):
            loaded += 1
        if a == b:
            syntax += syntax_error(a)
            continue
        both_errors = a and b and a.startswith("error: ") and b.startswith("error: ")
        if both_errors and (syntax_error(a) or syntax_error(b)):
            syntax += 1
            continue
        differ.append("%s\n  c++:  %s  java: %s" % (name, a, b))
    print("%d inputs: %d loaded alike, %d refused alike (%d as YAML syntax "
          "errors), %d differ" % (len(cxx), loaded, len(cxx) - loaded -
                                  len(differ), syntax, len(differ)))
    for d in differ:
        print(d, file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
