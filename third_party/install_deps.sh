#!/usr/bin/env bash
# Installs what building and testing Mayfly needs, and nothing twice.
#
# Everything comes from Debian bookworm packages (see ../shared/DESIGN.md for
# the versions). Packages already installed are skipped, so a second run is
# quick and touches nothing. Runs as root (the CI machine and the README's
# set-up commands do).
set -euo pipefail

PACKAGES=(
  # Bazel 4.2.3 and the rule sets it loads offline.
  bazel-bootstrap bazel-platforms bazel-rules-java bazel-rules-proto
  bazel-skylib
  # Libraries wrapped by third_party/system.BUILD.
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libabsl-dev libssl-dev librdkafka-dev libgtest-dev libgmock-dev
  libbenchmark-dev libyaml-cpp-dev libspdlog-dev
  # Tools: the real openssl binary for interop tests, clang for libFuzzer,
  # clang-format for the style check.
  openssl clang-14 libclang-rt-14-dev clang-format-14
  # The real-broker tests (tests/kafka): Kafka 4.4.0 runs on Java 17 and its
  # jars come from Maven Central through Maven.
  openjdk-17-jdk-headless maven
  # The etcd store's tests (identity/server/etcd) run a 3-member cluster of
  # the real daemon, etcd 3.4.
  etcd-server
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "install_deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# buildifier comes from the Go module proxy; the format check skips BUILD
# files (and says so) where Go is missing.
BUILDIFIER_VERSION=v0.0.0-20260904073137-eaa4d125b423
if ! command -v buildifier >/dev/null && [[ ! -x "$HOME/go/bin/buildifier" ]] &&
  command -v go >/dev/null; then
  echo "install_deps: installing buildifier" >&2
  (cd /tmp && go install \
    "github.com/bazelbuild/buildtools/buildifier@${BUILDIFIER_VERSION}") ||
    echo "install_deps: buildifier did not install; BUILD files unchecked" >&2
fi
