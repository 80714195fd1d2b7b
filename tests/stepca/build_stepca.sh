#!/usr/bin/env bash
# Builds step-ca (Smallstep's CA) from the Go module proxy into
# $1/step-ca-VERSION/bin and prints the step-ca path on its last line.
# Idempotent: an existing build is reused. The first build compiles about
# 260 CPU-seconds of Go (measured with an empty build cache): 2-3 minutes
# on 2 idle cores, plus the module downloads.
set -euo pipefail
out=${1:?usage: build_stepca.sh OUTDIR}
# The newest the proxy served on 2026-12-01; it builds with Go 1.26.
version=v0.30.2
dir="$out/step-ca-$version"
if [[ -x $dir/bin/step-ca ]]; then
  echo "$dir/bin/step-ca"
  exit 0
fi
mkdir -p "$dir"
echo "building step-ca $version from the Go module proxy (several minutes)" >&2
# A private GOBIN first, renamed into place: a build that was cut short never
# leaves a binary that the check above would reuse.
rm -rf "$dir/bin.tmp"
CGO_ENABLED=0 GOBIN="$dir/bin.tmp" go install \
  "github.com/smallstep/certificates/cmd/step-ca@$version" >&2
rm -rf "$dir/bin"
mv "$dir/bin.tmp" "$dir/bin"
echo "$dir/bin/step-ca"
