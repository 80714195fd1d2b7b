#!/bin/sh
# Builds the Mayfly Kafka broker plugin jar and runs its JUnit tests, with
# Maven's local repository in ~/.cache/mayfly/m2 (the one place CI caches).
# Idempotent; prints the jar's path last. Arguments go to Maven (e.g.
# -DskipTests when only the jar is wanted).
set -eu
module=$(cd "$(dirname "$0")" && pwd)
# Maven's own output goes to stderr, so the last line of stdout is the path.
mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$HOME/.cache/mayfly/m2" \
  -f "$module/pom.xml" "$@" package >&2
echo "$module/target/mayfly-kafka-broker-plugin-0.1.0.jar"
