#!/usr/bin/env bash
# Runs google-java-format 1.28.0 (the newest that runs on Java 17), fetched
# once from Maven Central into ~/.cache/mayfly/tools. Arguments go to it:
#
#   bash tests/google_java_format.sh --aosp --replace FILE...   (format)
#   bash tests/google_java_format.sh --aosp --dry-run FILE...   (list unformatted)
#
# The Java here is in AOSP style (4-space indents), as Kafka's own code is.
set -euo pipefail
version=1.28.0
tools="$HOME/.cache/mayfly/tools"
jar="$tools/google-java-format-$version-all-deps.jar"
if [[ ! -s $jar ]]; then
  mkdir -p "$tools"
  mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$HOME/.cache/mayfly/m2" \
    dependency:copy \
    -Dartifact="com.google.googlejavaformat:google-java-format:$version:jar:all-deps" \
    -DoutputDirectory="$tools" >&2
fi
# It uses javac's internals, which Java 17 exports only on request.
exports=()
for package in api code file parser tree util; do
  exports+=("--add-exports=jdk.compiler/com.sun.tools.javac.$package=ALL-UNNAMED")
done
exec java "${exports[@]}" -jar "$jar" "$@"
