#!/usr/bin/env bash
# Builds the SPIRE agent and server from the Go module proxy into
# $1/spire-VERSION/bin and prints the spire-agent path (spire-server is
# beside it). SPIRE has replace directives, so `go install pkg@version` is
# refused; `go get -tool` in a scratch module, then `go install`, works.
# Idempotent: an existing build is reused.
set -euo pipefail
out=${1:?usage: build_spire.sh OUTDIR}
version=v1.13.3
dir="$out/spire-$version"
if [[ -x $dir/bin/spire-agent && -x $dir/bin/spire-server ]]; then
  echo "$dir/bin/spire-agent"
  exit 0
fi
mkdir -p "$dir/mod"
cd "$dir/mod"
printf 'module mayfly.dev/interop/spire\n\ngo 1.24\n' >go.mod
echo "building SPIRE $version from the Go module proxy (several minutes)" >&2
for cmd in spire-agent spire-server; do
  GOFLAGS=-mod=mod go get -tool "github.com/spiffe/spire/cmd/$cmd@$version" >&2
done
GOFLAGS=-mod=mod GOBIN="$dir/bin" go install \
  github.com/spiffe/spire/cmd/spire-agent github.com/spiffe/spire/cmd/spire-server >&2
echo "$dir/bin/spire-agent"
