#!/usr/bin/env bash
# Copies etcd's v3 API protos from Debian's golang-etcd-server-dev into this
# folder, stripped of what the system protoc cannot resolve offline: the
# gogoproto import and options, the google.api import and HTTP annotations.
# The imports between the three files become workspace-relative. Messages,
# fields, services and packages are untouched, so the wire format and the
# gRPC method names are etcd's. Run from anywhere; README.md records the
# package version the checked-in files came from.
set -euo pipefail
src=/usr/share/gocode/src/go.etcd.io/etcd
out=$(cd "$(dirname "$0")" && pwd)

strip() {
  # Drops every `option (google.api.http) = { ... };` block (braces nest:
  # additional_bindings), then the gogoproto and google.api lines.
  awk '
    depth == 0 && /option \(google\.api\.http\) = \{/ { depth = 1; next }
    depth > 0 {
      n = gsub(/\{/, "{"); depth += n
      n = gsub(/\}/, "}"); depth -= n
      next
    }
    { print }
  ' "$1" | sed -E \
    -e '/^import "gogoproto\/gogo.proto";$/d' \
    -e '/^import "google\/api\/annotations.proto";$/d' \
    -e '/^\/\/ for grpc-gateway$/d' \
    -e '/^option \(gogoproto\.[a-z_]+\) = (true|false);$/d' \
    -e 's#^import "etcd/mvcc/mvccpb/kv.proto";#import "third_party/etcd/kv.proto";#' \
    -e 's#^import "etcd/auth/authpb/auth.proto";#import "third_party/etcd/auth.proto";#' | cat -s
}

strip "$src/etcdserver/etcdserverpb/rpc.proto" >"$out/rpc.proto"
strip "$src/mvcc/mvccpb/kv.proto" >"$out/kv.proto"
strip "$src/auth/authpb/auth.proto" >"$out/auth.proto"
if grep -n 'gogoproto\|google\.api\|google/api' "$out"/*.proto; then
  echo "vendor.sh: options left over (above)" >&2
  exit 1
fi
