#!/usr/bin/env bash
# Builds gospiffe-check (an unmodified go-spiffe v2 client) from the Go
# module proxy into the directory given as $1 and prints the binary's path.
# Idempotent: Go's build cache makes a second run a no-op.
set -euo pipefail
out=${1:?usage: build_gospiffe.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/gospiffe"
GOFLAGS=-mod=mod go build -o "$out/gospiffe-check" .
echo "$out/gospiffe-check"
