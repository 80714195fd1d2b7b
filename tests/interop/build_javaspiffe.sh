#!/usr/bin/env bash
# Builds javaspiffe-check (an unmodified java-spiffe client, javaspiffe/)
# with Maven into the directory given as $1 and prints the path of its
# launcher, $1/javaspiffe-check, a script that runs it with java -cp.
# The jars come from Maven Central into ~/.cache/mayfly/m2 (MAYFLY_CACHE);
# Maven builds in $1/javaspiffe, never in the source tree.
# Idempotent: a launcher built from the same sources (the sha256 of pom.xml
# and the Java files) whose jars are all still there is reused without
# running Maven.
#
# build_javaspiffe.sh --sources-sha256 prints only that sha256: the test
# compares it with the launcher's, so it never runs a stale build.
set -euo pipefail
src=$(cd "$(dirname "$0")/javaspiffe" && pwd)
# -L: in Bazel's runfiles the sources are symlinks.
sum=$(cd "$src" && find -L pom.xml src -type f | LC_ALL=C sort |
  xargs sha256sum | sha256sum | cut -c1-64)
if [[ ${1:-} == --sources-sha256 ]]; then
  echo "$sum"
  exit 0
fi
out=${1:?usage: build_javaspiffe.sh OUTDIR | --sources-sha256}
mkdir -p "$out"
out=$(cd "$out" && pwd)
repo="${MAYFLY_CACHE:-$HOME/.cache/mayfly}/m2"
build="$out/javaspiffe"
launcher="$out/javaspiffe-check"
main=dev.mayfly.interop.JavaSpiffeCheck

# up_to_date: the launcher says it was built from $sum and every entry of
# its classpath exists.
up_to_date() {
  local entry
  [[ -x $launcher && -s $build/classpath.txt ]] || return 1
  grep -qx "# sources: $sum" "$launcher" || return 1
  while IFS= read -r -d: entry; do
    [[ -e $entry ]] || return 1
  done < <(tr -d '\n' <"$build/classpath.txt"; printf :)
}
if up_to_date; then
  echo "$launcher"
  exit 0
fi

echo "javaspiffe: building javaspiffe-check with Maven (once per source change)" >&2
rm -rf "$build"
mkdir -p "$build"
cp -R "$src/pom.xml" "$src/src" "$build/"
mvn_args=(-q -B -Dstyle.color=never -f "$build/pom.xml" -Dmaven.repo.local="$repo"
  compile dependency:build-classpath -Dmdep.includeScope=runtime
  -Dmdep.outputFile="$build/deps.txt")
# -o first: the repository usually has everything; then let Maven download.
mvn -o "${mvn_args[@]}" >/dev/null 2>&1 || mvn "${mvn_args[@]}" >&2 || {
  echo "javaspiffe: the Maven build failed" >&2
  exit 1
}
printf '%s:%s\n' "$build/target/classes" "$(cat "$build/deps.txt")" \
  >"$build/classpath.txt"

# The java that built it, by absolute path, whatever PATH Bazel gives the
# test.
java=$(command -v "${JAVA_HOME:+$JAVA_HOME/bin/}java")
java=$(readlink -f "$java")
cat >"$launcher.tmp" <<EOF
#!/bin/sh
# javaspiffe-check, written by tests/interop/build_javaspiffe.sh.
# sources: $sum
exec "$java" -cp "\$(cat '$build/classpath.txt')" $main "\$@"
EOF
chmod +x "$launcher.tmp"
mv "$launcher.tmp" "$launcher"
up_to_date || {
  echo "javaspiffe: $build/classpath.txt names files that are not there" >&2
  exit 1
}
echo "$launcher"
