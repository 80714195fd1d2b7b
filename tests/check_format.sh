#!/usr/bin/env bash
# Fails when a C++ file is not clang-format clean (Google style, .clang-format)
# or, where buildifier is installed, a BUILD file is not buildifier clean, or
# a Java file is not google-java-format clean (AOSP style, as Kafka is).
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t cc_files < <(git ls-files '*.cc' '*.h')
if ((${#cc_files[@]} > 0)); then
  clang-format-14 --dry-run --Werror "${cc_files[@]}"
fi
echo "format: ${#cc_files[@]} C++ files clean" >&2

buildifier=$(command -v buildifier || true)
[[ -z "$buildifier" && -x "$HOME/go/bin/buildifier" ]] && buildifier="$HOME/go/bin/buildifier"
if [[ -n "$buildifier" ]]; then
  mapfile -t build_files < <(git ls-files 'BUILD.bazel' '*/BUILD.bazel' '*.bzl' 'WORKSPACE')
  "$buildifier" -mode=check "${build_files[@]}"
  echo "format: ${#build_files[@]} Bazel files clean" >&2
else
  echo "format: buildifier not installed; Bazel files not checked" >&2
fi

mapfile -t go_files < <(git ls-files '*.go')
if ((${#go_files[@]} > 0)); then
  unformatted=$(gofmt -l "${go_files[@]}")
  if [[ -n $unformatted ]]; then
    echo "format: gofmt would change: $unformatted" >&2
    exit 1
  fi
fi
echo "format: ${#go_files[@]} Go files clean" >&2

mapfile -t java_files < <(git ls-files '*.java')
if ((${#java_files[@]} > 0)); then
  unformatted=$(bash tests/google_java_format.sh --aosp --dry-run "${java_files[@]}")
  if [[ -n $unformatted ]]; then
    echo "format: google-java-format --aosp would change:" $unformatted >&2
    echo "format: fix with bash tests/google_java_format.sh --aosp --replace FILE..." >&2
    exit 1
  fi
fi
echo "format: ${#java_files[@]} Java files clean" >&2
